"""A backup of Odoo's database as a restore needs it: the database (pg_dump, custom format) and its
filestore (the attachments Odoo keeps on disk, ``<data_dir>/filestore/<db>``), side by side in the
backup folder under the same time stamp, rotated together."""
import configparser
import os
import re
import subprocess
import tarfile
from datetime import datetime, timezone
from pathlib import Path

from psycopg2.extensions import parse_dsn

from celery_bridge.core import errors
from celery_bridge.core.scrub import hide_url_passwords, redact
from celery_bridge.odoo_db import connection as db

DUMP_SUFFIX = ".dump"
FILESTORE_SUFFIX = ".filestore.tar.gz"
PG_DUMP_TIMEOUT = 3300  # under the task's hard time limit (1 h)


def odoo_data_dir(settings, environ=None):
    """Odoo's data_dir as this worker sees it: ODOO_DATA_DIR, else the data_dir option of odoo.conf
    (ODOO_RC); empty when neither says."""
    if settings.odoo_data_dir:
        return settings.odoo_data_dir
    environ = os.environ if environ is None else environ
    conf = environ.get("ODOO_RC")
    if conf and os.path.exists(conf):
        parser = configparser.ConfigParser(interpolation=None)
        parser.read(conf)
        if parser.has_option("options", "data_dir"):
            return parser.get("options", "data_dir")
    return ""


def filestore_of(settings, dbname, environ=None):
    """The filestore folder of ``dbname``; refused (InvalidInput) when this worker cannot see it: a
    backup without the attachments would restore a database whose files are missing."""
    data_dir = odoo_data_dir(settings, environ)
    if not data_dir:
        raise errors.InvalidInput("the backup needs Odoo's filestore: set ODOO_DATA_DIR on this worker to Odoo's "
                                  "data_dir (mounted read-only)")
    folder = Path(data_dir) / "filestore" / dbname
    if not folder.is_dir():
        raise errors.InvalidInput(f"no filestore of database {dbname} at {folder}: is Odoo's data_dir mounted here?")
    return folder


def back_up(settings, keep, environ=None, now=None):
    """Dump the database and archive its filestore into BACKUP_DIR, then keep the newest ``keep``
    backups (both files of each). Returns what was written and removed."""
    if keep < 1:
        raise errors.InvalidInput("keep must be at least 1")
    params = parse_dsn(db.database_dsn(settings, environ))
    dbname = params.get("dbname") or settings.odoo_db
    filestore = filestore_of(settings, dbname, environ)
    folder = Path(settings.backup_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise errors.PermissionDenied(f"cannot create {folder}: {exc.strerror}") from None
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%S%fZ")  # to the microsecond: names never collide
    dump = folder / f"{dbname}-{stamp}{DUMP_SUFFIX}"
    archive = folder / f"{dbname}-{stamp}{FILESTORE_SUFFIX}"
    _pg_dump(params, dbname, dump, environ)
    # After the dump: Odoo only adds files while it runs (its garbage collection removes unreferenced
    # ones later), so every file the dump refers to is in the archive.
    try:
        _archive(filestore, archive, dbname)
    except BaseException:
        dump.unlink(missing_ok=True)  # half a backup is no backup
        raise
    removed = rotate(folder, dbname, keep)
    return {
        "file": str(dump), "bytes": dump.stat().st_size,
        "filestore": str(archive), "filestore_bytes": archive.stat().st_size,
        "kept": min(keep, len(backups(folder, dbname))), "removed": removed,
    }


def _pg_dump(params, dbname, target, environ):
    partial = target.with_name(target.name + ".part")
    env = dict(os.environ if environ is None else environ)
    if params.get("password"):
        env["PGPASSWORD"] = params["password"]  # never on the command line, where ps would show it
    command = ["pg_dump", "--format=custom", "--no-owner", f"--file={partial}", f"--dbname={dbname}"]
    for key, flag in (("host", "--host"), ("port", "--port"), ("user", "--username")):
        if params.get(key):
            command.append(f"{flag}={params[key]}")
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=PG_DUMP_TIMEOUT)
    if result.returncode:
        partial.unlink(missing_ok=True)
        first_line = (result.stderr.strip().splitlines() or ["no message"])[0]
        first_line = redact(hide_url_passwords(first_line), [params.get("password")])  # never the password
        raise errors.JobError(f"pg_dump failed ({result.returncode}): {first_line[:300]}")
    partial.rename(target)


def _archive(filestore, target, dbname):
    """``filestore`` as ``filestore/<db>/...`` in a gzipped tar: extracted into a data_dir, it is where
    Odoo looks for the restored database's files."""
    partial = target.with_name(target.name + ".part")
    try:
        with tarfile.open(partial, "w:gz", compresslevel=6) as tar:
            tar.add(filestore, arcname=f"filestore/{dbname}")
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise errors.JobError(f"cannot archive the filestore {filestore}: {exc.strerror or exc}") from None
    partial.rename(target)


def backups(folder, dbname):
    """Time stamps of the complete backups of ``dbname`` in ``folder``, newest first."""
    pattern = re.compile(rf"^{re.escape(dbname)}-(\d{{8}}T\d{{12}}Z){re.escape(DUMP_SUFFIX)}$")
    return sorted((m.group(1) for m in map(pattern.match, os.listdir(folder)) if m), reverse=True)


def rotate(folder, dbname, keep):
    """Remove every backup of ``dbname`` but the newest ``keep`` (the dump and the filestore archive,
    and a filestore archive left without its dump); returns the names removed."""
    kept = set(backups(folder, dbname)[:keep])
    pattern = re.compile(rf"^{re.escape(dbname)}-(\d{{8}}T\d{{12}}Z)"
                         rf"(?:{re.escape(DUMP_SUFFIX)}|{re.escape(FILESTORE_SUFFIX)})$")
    removed = []
    for name in sorted(os.listdir(folder)):
        match = pattern.match(name)
        if match and match.group(1) not in kept:
            (Path(folder) / name).unlink()
            removed.append(name)
    return removed
