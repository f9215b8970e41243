"""``odoo sdj_bridge_key``: the Celery bridge's API key into a file, for the workers of a deployment.

    odoo sdj_bridge_key -c odoo.conf -d DB --output /run/smart-dairy/bridge_api_key [--group GROUP]

Run by the init step of docker-compose (and by anyone deploying otherwise) before the workers start.
A key already in the file that still logs the bridge user in is kept; otherwise a new key is issued
as Jobs › Configuration › Bridge API Key issues it (the bridge's previous keys are revoked) and the
file is replaced. The file is readable by its owner only (0600), or by ``--group`` too (0640) when the
workers run as another user of that group. The key is never printed or logged.
"""
import argparse
import grp
import logging
import os
import sys
import tempfile
from pathlib import Path

from odoo import SUPERUSER_ID, api
from odoo.cli import Command
from odoo.modules.registry import Registry
from odoo.tools import config

_logger = logging.getLogger(__name__)

KEPT, ISSUED = "kept", "issued"


def read_key(path):
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return ""


def bridge_key_for(env, current_key):
    """(key, outcome): ``current_key`` if it still logs the bridge user in (KEPT), else a new key
    issued by the Bridge API Key wizard (ISSUED). ``env`` must be a system administrator's."""
    bridge = env.ref("smart_dairy_jobs.user_bridge")
    if current_key and bridge.active:
        # Read-only check of a secret against the hashed keys: sudo because only the key's owner may read them.
        if env["res.users.apikeys"].sudo()._check_credentials(scope="rpc", key=current_key) == bridge.id:
            return current_key, KEPT
    wizard = env["smart_dairy.job.bridge.key"].create({"revoke_existing": True})
    wizard.action_issue_key()
    key = wizard.key
    wizard.unlink()  # the key leaves the database with the wizard: it lives in the file only
    return key, ISSUED


def write_key_file(path, key, group=None):
    """Write ``key`` to ``path`` atomically, mode 0600 (0640 with ``group``); returns the temporary
    file, to be moved into place by the caller once the key is committed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        if group:
            os.fchown(handle, -1, grp.getgrnam(group).gr_gid)
        os.fchmod(handle, 0o640 if group else 0o600)  # mkstemp's 0600 already; 0640 only once the group is set
        os.write(handle, (key + "\n").encode())
        os.fsync(handle)
    except BaseException:
        os.close(handle)
        os.unlink(temporary)
        raise
    os.close(handle)
    return temporary


def restrict(path, group=None):
    """Mode 0600, or 0640 for ``group``: the file holds a key that reports on every company's jobs."""
    if group:
        os.chown(path, -1, grp.getgrnam(group).gr_gid)
    os.chmod(path, 0o640 if group else 0o600)


class SdjBridgeKey(Command):
    """Write the Celery bridge's API key to a file, issuing a key if the file holds none that works"""

    name = "sdj_bridge_key"

    def run(self, cmdargs):
        parser = argparse.ArgumentParser(
            prog=f"{Path(sys.argv[0]).name} {self.name}", allow_abbrev=False,
            description=(__doc__ or "").strip().splitlines()[0],
            epilog="Odoo's own options (-c, -d, --db_host ...) are accepted too.",
        )
        parser.add_argument("--output", required=True, help="the key file the workers read (ODOO_API_KEY_FILE)")
        parser.add_argument("--group", help="a group that may read the file too (mode 0640 instead of 0600)")
        options, odoo_args = parser.parse_known_args(cmdargs)
        config.parse_config(odoo_args, setup_logging=True)
        dbname = config["db_name"]
        if not dbname or "," in dbname:
            sys.exit(f"{self.name} needs one database: -d DB (or db_name in the configuration file)")
        if options.group:
            try:
                grp.getgrnam(options.group)
            except KeyError:
                sys.exit(f"{self.name}: no group named {options.group!r}")
        outcome = self.ensure_key_file(dbname, Path(options.output), options.group)
        _logger.info("Bridge API key %s in %s (database %s)", outcome, options.output, dbname)

    @staticmethod
    def ensure_key_file(dbname, path, group=None):
        registry = Registry(dbname)
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            key, outcome = bridge_key_for(env, read_key(path))
            if outcome == KEPT:
                restrict(path, group)  # a file written by hand, or before --group was given
                return outcome
            temporary = write_key_file(path, key, group)
            try:
                # The new key exists (and the old ones are revoked) before the file names it.
                cr.commit()  # pylint: disable=invalid-commit
            except BaseException:
                os.unlink(temporary)
                raise
            os.replace(temporary, path)
        return outcome
