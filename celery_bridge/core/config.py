"""Connection settings of the bridge and of the Odoo side's publisher.

Each setting is read from the environment first, then from the ``[smart_dairy_jobs]`` section of
odoo.conf (the file named by ``ODOO_RC``), then falls back to a local default.
"""
import configparser
import logging
import os
import stat
import tempfile
import time
from dataclasses import dataclass, fields, replace

from celery_bridge.core import protocol
from celery_bridge.core.scrub import MASK, hide_url_passwords, is_secret_key

SECTION = "smart_dairy_jobs"
BRIDGE_LOGIN = "smart_dairy_jobs_bridge"

_logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Settings:
    odoo_url: str = "http://127.0.0.1:8069"
    odoo_db: str = "smart_dairy"
    odoo_login: str = BRIDGE_LOGIN
    odoo_api_key: str = ""
    # A file holding the key instead (a secret mounted into a container, the key odoo-init issues on
    # the first start): read when odoo_api_key is empty.
    odoo_api_key_file: str = ""
    celery_broker_url: str = "redis://127.0.0.1:6379/0"
    celery_result_backend: str = "redis://127.0.0.1:6379/1"
    rpc_timeout: float = 10.0
    report_batch_size: int = 200
    broker_visibility_timeout: int = 3900  # longer than the longest hard time limit (1 h)
    publish_timeout: float = 3.0  # how long Odoo waits for the broker before leaving jobs to the sweeper
    # The longest wait between two attempts of a worker to reach the broker again; it retries for ever.
    broker_retry_max_interval: float = 10.0
    state_redis_url: str = ""  # where the bridge keeps spool, claims and circuits; default: the broker
    heartbeat_interval: float = protocol.DEFAULT_HEARTBEAT_INTERVAL  # how often a worker renews the leases of the jobs it runs
    metrics_port: int = 9808  # the worker's Prometheus endpoint; 0 turns it off
    database_dsn: str = ""  # Odoo's database, for bulk IoT writes; default: odoo.conf's db_* options + odoo_db
    farm_timezone: str = protocol.FARM_TIMEZONE  # the farm day of the milk aggregation
    mqtt_url: str = "mqtt://127.0.0.1:1883"  # the broker the IoT ingestion bridge subscribes to
    mqtt_topic: str = "smartdairy/+/+/readings"
    mqtt_client_id: str = "smart-dairy-iot-ingest"
    iot_batch_window: float = 1.0  # seconds a device's readings are gathered into one job (jobs/s = devices/window)
    iot_batch_size: int = 500  # readings that close a device's batch early
    iot_metrics_port: int = 9809  # the ingestion bridge's Prometheus endpoint; 0 turns it off
    backup_dir: str = "/var/backups/smart_dairy"  # where backup_database writes the dumps and filestore archives
    backup_keep: int = 7  # how many backups rotation keeps
    # Odoo's data_dir as the worker running backups sees it (its filestore/<db> goes into every backup);
    # empty: the data_dir option of odoo.conf (ODOO_RC).
    odoo_data_dir: str = ""
    # The only folder the diagnostic tasks (touch, expect_file) use; empty: a private folder in the
    # system's temp directory (see diagnostics_dir()).
    diagnostics_dir: str = ""
    # Shared by Odoo (signs every job message) and the workers (run only what is signed); several,
    # comma-separated, while rotating. Empty: messages are not signed (development only).
    job_signing_secret: str = ""

    # Outgoing mail (celery_bridge.integrations.mail)
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_user: str = ""  # empty: no AUTH
    smtp_password: str = ""
    smtp_security: str = "none"  # none, starttls or ssl
    smtp_from: str = "Smart Dairy <noreply@smartdairybd.com>"
    smtp_timeout: float = 10.0
    # SMS (celery_bridge.integrations.sms): the provider's send endpoint
    sms_url: str = ""
    sms_api_token: str = ""
    sms_sender_id: str = ""
    sms_timeout: float = 30.0
    # Payment gateways (celery_bridge.integrations.payments)
    bkash_base_url: str = ""  # e.g. https://tokenized.sandbox.bka.sh/v1.2.0-beta
    bkash_app_key: str = ""
    bkash_app_secret: str = ""
    bkash_username: str = ""
    bkash_password: str = ""
    nagad_base_url: str = ""  # e.g. http://sandbox.mynagad.com:10080/remote-payment-gateway-1.0
    nagad_merchant_id: str = ""
    nagad_api_key: str = ""
    payment_timeout: float = 20.0
    payment_callback_url: str = ""  # the web page the gateways send the customer back to

    def __repr__(self):
        shown = {f.name: getattr(self, f.name) for f in fields(self)}
        for name, value in shown.items():
            if value and is_secret_key(name):
                shown[name] = MASK
            else:  # broker, MQTT and database URLs may hold a password
                shown[name] = hide_url_passwords(value)
        return "Settings(%s)" % ", ".join(f"{k}={v!r}" for k, v in shown.items())


def read_section(conf_path):
    if not conf_path or not os.path.exists(conf_path):
        return {}
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(conf_path)
    return dict(parser[SECTION]) if parser.has_section(SECTION) else {}


def load_settings(environ=None, section=None):
    """Build the settings; ``section`` is the already-parsed odoo.conf section (inside Odoo)."""
    environ = os.environ if environ is None else environ
    if section is None:
        section = read_section(environ.get("ODOO_RC"))
    values = {}
    for field in fields(Settings):
        raw = environ.get(field.name.upper())
        if raw in (None, ""):
            raw = section.get(field.name)
        if raw in (None, ""):
            continue
        try:
            values[field.name] = field.type(raw) if field.type in (int, float) else str(raw)
        except ValueError as exc:
            raise ValueError(f"Setting {field.name} must be a {field.type.__name__}, got {raw!r}") from exc
    if not values.get("odoo_api_key") and values.get("odoo_api_key_file"):
        key = read_api_key_file(values["odoo_api_key_file"])
        if key:
            values["odoo_api_key"] = key
    return Settings(**values)


def read_api_key_file(path):
    """The key held by ``path`` (surrounding white space dropped); empty while the file is missing or empty."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()
    except FileNotFoundError:
        return ""


def wait_for_api_key(settings, poll_interval=1.0, log_interval=30.0, timeout=None):
    """``settings`` with the bridge's API key, once the file ``odoo_api_key_file`` names holds one.

    On a first start the key does not exist yet: Odoo's init step issues it and writes the file, and
    a worker or the ingestion bridge started meanwhile waits here rather than failing to log in.
    Settings that already have a key (or name no file) come back as they are. ``timeout`` (seconds,
    None: for ever) ends the wait with ``TimeoutError``. The key itself is never logged.
    """
    if settings.odoo_api_key or not settings.odoo_api_key_file:
        return settings
    path = settings.odoo_api_key_file
    _logger.warning("Waiting for the bridge's API key in %s (written by Smart Dairy's init step, "
                    "`odoo sdj_bridge_key --output %s`)", path, path)
    started = time.monotonic()
    next_log = started + log_interval
    while True:
        key = read_api_key_file(path)
        if key:
            _logger.info("Found the bridge's API key in %s", path)
            return replace(settings, odoo_api_key=key)
        now = time.monotonic()
        if timeout is not None and now - started >= timeout:
            raise TimeoutError(f"no API key appeared in {path} within {timeout:.0f} s")
        if now >= next_log:
            _logger.warning("Still waiting for the bridge's API key in %s (%.0f s)", path, now - started)
            next_log = now + log_interval
        time.sleep(poll_interval)


def diagnostics_dir(settings):
    """The diagnostics folder (created 0700 if missing), as a resolved absolute path.

    Refused (``PermissionError``) if it is a symlink, not a folder, or not owned by this OS user: a
    folder someone else controls could point the diagnostics at files outside it.
    """
    path = settings.diagnostics_dir or os.path.join(tempfile.gettempdir(), f"smart_dairy_diagnostics-{os.getuid()}")
    path = os.path.abspath(path)
    try:
        os.makedirs(path, mode=0o700)
    except FileExistsError:
        pass
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise PermissionError(f"the diagnostics folder {path} must be a real folder, not a link or a file")
    if info.st_uid != os.getuid():
        raise PermissionError(f"the diagnostics folder {path} belongs to another user")
    if info.st_mode & 0o077:  # an existing folder others could write in or read: make it ours alone
        os.chmod(path, 0o700)
    return os.path.realpath(path)
