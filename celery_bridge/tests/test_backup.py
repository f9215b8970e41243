"""Backups with a real PostgreSQL database and a filestore folder: what a restore needs is there, and
rotation keeps the newest whole backups."""
import os
import subprocess
import tarfile
import uuid
from datetime import datetime, timedelta, timezone

import psycopg2
import pytest

from celery_bridge.core import errors
from celery_bridge.core.config import load_settings
from celery_bridge.odoo_db import backup

PG = {"host": os.environ.get("PGHOST_ODOO", "127.0.0.1"), "user": os.environ.get("PGUSER_ODOO", "odoo")}


def _admin(sql):
    conn = psycopg2.connect(dbname="postgres", **PG)
    conn.autocommit = True
    try:
        with conn.cursor() as cr:
            cr.execute(sql)
    finally:
        conn.close()


@pytest.fixture
def database():
    name = f"sdj_backup_test_{uuid.uuid4().hex[:8]}"
    _admin(f'CREATE DATABASE "{name}"')
    with psycopg2.connect(dbname=name, **PG) as conn, conn.cursor() as cr:
        cr.execute("CREATE TABLE milk_record (id serial PRIMARY KEY, litres numeric)")
        cr.execute("INSERT INTO milk_record (litres) VALUES (14.5)")
    conn.close()
    yield name
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def data_dir(tmp_path, database):
    """Odoo's data_dir with a filestore for the database, as Odoo lays it out (<sha1[:2]>/<sha1>)."""
    folder = tmp_path / "odoo-data"
    (folder / "filestore" / database / "ab").mkdir(parents=True)
    (folder / "filestore" / database / "ab" / "abcdef0123").write_bytes(b"%PDF-1.4 invoice")
    return folder


def _settings(tmp_path, database, data_dir):
    return load_settings({
        "DATABASE_DSN": f"host={PG['host']} user={PG['user']} dbname={database}",
        "BACKUP_DIR": str(tmp_path / "backups"), "ODOO_DATA_DIR": str(data_dir),
    }, section={})


def test_a_backup_holds_the_database_and_its_filestore(tmp_path, database, data_dir):
    result = backup.back_up(_settings(tmp_path, database, data_dir), keep=3, environ={})
    listing = subprocess.run(["pg_restore", "--list", result["file"]], capture_output=True, text=True)
    assert listing.returncode == 0, listing.stderr
    assert "TABLE DATA public milk_record " in listing.stdout
    with tarfile.open(result["filestore"]) as tar:
        member = tar.extractfile(f"filestore/{database}/ab/abcdef0123")
        assert member.read() == b"%PDF-1.4 invoice"
    assert result["filestore_bytes"] == os.path.getsize(result["filestore"]) > 0
    assert sorted(p.name for p in (tmp_path / "backups").iterdir()) == sorted(
        [os.path.basename(result["file"]), os.path.basename(result["filestore"])]), "no partial files left"


def test_rotation_keeps_the_newest_backups_with_their_filestores(tmp_path, database, data_dir):
    settings = _settings(tmp_path, database, data_dir)
    start = datetime(2026, 11, 1, 1, 30, tzinfo=timezone.utc)
    results = [backup.back_up(settings, keep=2, environ={}, now=start + timedelta(days=day)) for day in range(3)]
    names = sorted(p.name for p in (tmp_path / "backups").iterdir())
    expected = sorted(os.path.basename(r[key]) for r in results[1:] for key in ("file", "filestore"))
    assert names == expected
    assert sorted(results[-1]["removed"]) == sorted(os.path.basename(results[0][key]) for key in ("file", "filestore"))
    assert results[-1]["kept"] == 2


def test_a_backup_without_a_visible_filestore_is_refused_and_writes_nothing(tmp_path, database, data_dir):
    settings = _settings(tmp_path, database, tmp_path / "not-mounted")
    with pytest.raises(errors.InvalidInput, match="no filestore"):
        backup.back_up(settings, keep=2, environ={})
    assert not (tmp_path / "backups").exists() or not list((tmp_path / "backups").iterdir())
    unset = load_settings({"DATABASE_DSN": f"host={PG['host']} user={PG['user']} dbname={database}",
                           "BACKUP_DIR": str(tmp_path / "backups")}, section={})
    with pytest.raises(errors.InvalidInput, match="ODOO_DATA_DIR"):
        backup.back_up(unset, keep=2, environ={})
    assert not (tmp_path / "backups").exists() or not list((tmp_path / "backups").iterdir())


def test_the_data_dir_comes_from_odoo_conf_when_not_set(tmp_path):
    conf = tmp_path / "odoo.conf"
    conf.write_text("[options]\ndata_dir = /var/lib/odoo\n")
    assert backup.odoo_data_dir(load_settings({}, section={}), {"ODOO_RC": str(conf)}) == "/var/lib/odoo"
    assert backup.odoo_data_dir(load_settings({"ODOO_DATA_DIR": "/srv/odoo"}, section={}),
                                {"ODOO_RC": str(conf)}) == "/srv/odoo"
