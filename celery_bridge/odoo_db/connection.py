"""The workers' own connection to Odoo's database: IoT bulk writes, report queries, cleanup, backups."""
import configparser
import os

import psycopg2
from psycopg2.extensions import make_dsn

from celery_bridge.core import errors

_connection = None
_connection_pid = None


def database_dsn(settings, environ=None):
    """DATABASE_DSN if set; otherwise the db_* options of odoo.conf (ODOO_RC) on database odoo_db, so a
    worker beside Odoo needs no second copy of the database password."""
    if settings.database_dsn:
        return settings.database_dsn
    environ = os.environ if environ is None else environ
    options = {}
    conf = environ.get("ODOO_RC")
    if conf and os.path.exists(conf):
        parser = configparser.ConfigParser(interpolation=None)
        parser.read(conf)
        if parser.has_section("options"):
            options = dict(parser["options"])
    parts = {"dbname": settings.odoo_db, "application_name": "smart_dairy_iot_worker"}
    for option, keyword in (("db_host", "host"), ("db_port", "port"), ("db_user", "user"),
                            ("db_password", "password"), ("db_sslmode", "sslmode")):
        value = options.get(option)
        if value not in (None, "", "False", "false"):
            parts[keyword] = value
    return make_dsn(**parts)


def connection(settings):
    """This process's connection (a forked pool process opens its own)."""
    global _connection, _connection_pid
    if _connection is not None and (_connection.closed or _connection_pid != os.getpid()):
        _connection = None
    if _connection is None:
        try:
            _connection = psycopg2.connect(database_dsn(settings), connect_timeout=10)
        except psycopg2.OperationalError as exc:
            # The message may name host and user but never the password; keep only its first line.
            raise errors.NetworkTimeout(f"database unreachable: {str(exc).splitlines()[0]}") from None
        _connection_pid = os.getpid()
    return _connection


def run_in_transaction(settings, work):
    """Run ``work(cursor)`` in one transaction; a lost connection is a retryable network error."""
    conn = connection(settings)
    try:
        with conn, conn.cursor() as cr:
            return work(cr)
    except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
        if getattr(exc, "pgcode", None):
            raise  # a lock timeout or serialization failure: classified as database_lock by its code
        conn.close()
        raise errors.NetworkTimeout(f"database connection lost: {str(exc).splitlines()[0]}") from None
