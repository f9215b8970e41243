"""The bridge's API key from a file (ODOO_API_KEY_FILE), as a container gets it from Odoo's init step."""
import logging
import threading

import pytest

from celery_bridge.core.config import load_settings, wait_for_api_key

KEY = "0123456789abcdef0123456789abcdef01234567"


def test_the_key_is_read_from_the_file_and_the_environment_wins(tmp_path):
    key_file = tmp_path / "bridge_api_key"
    key_file.write_text(KEY + "\n")
    assert load_settings({"ODOO_API_KEY_FILE": str(key_file)}, section={}).odoo_api_key == KEY
    assert load_settings({"ODOO_API_KEY_FILE": str(key_file), "ODOO_API_KEY": "from-env"},
                         section={}).odoo_api_key == "from-env"
    assert load_settings({}, section={"odoo_api_key_file": str(key_file)}).odoo_api_key == KEY
    assert load_settings({"ODOO_API_KEY_FILE": str(tmp_path / "missing")}, section={}).odoo_api_key == ""
    assert KEY not in repr(load_settings({"ODOO_API_KEY_FILE": str(key_file)}, section={}))


def test_a_worker_waits_for_the_key_file_and_never_logs_the_key(tmp_path, caplog):
    key_file = tmp_path / "bridge_api_key"
    settings = load_settings({"ODOO_API_KEY_FILE": str(key_file)}, section={})
    found = {}
    caplog.set_level(logging.INFO, logger="celery_bridge.core.config")
    waiter = threading.Thread(target=lambda: found.update(settings=wait_for_api_key(settings, poll_interval=0.05,
                                                                                   timeout=30)))
    waiter.start()
    deadline = threading.Event()
    for _ in range(600):  # the waiter says it waits before the file is written
        if any("Waiting for the bridge's API key" in r.getMessage() for r in caplog.records):
            break
        deadline.wait(0.05)
    assert waiter.is_alive(), "it did not wait for the file"
    key_file.write_text(KEY)
    waiter.join(30)
    assert found["settings"].odoo_api_key == KEY
    assert any("Found the bridge's API key" in r.getMessage() for r in caplog.records)
    assert all(KEY not in r.getMessage() for r in caplog.records)


def test_settings_with_a_key_or_without_a_file_do_not_wait(tmp_path):
    with_key = load_settings({"ODOO_API_KEY": "k", "ODOO_API_KEY_FILE": str(tmp_path / "missing")}, section={})
    assert wait_for_api_key(with_key, timeout=0) is with_key
    no_file = load_settings({}, section={})
    assert wait_for_api_key(no_file, timeout=0) is no_file


def test_an_empty_key_file_is_still_waited_for_until_the_timeout(tmp_path):
    key_file = tmp_path / "bridge_api_key"
    key_file.write_text("  \n")
    settings = load_settings({"ODOO_API_KEY_FILE": str(key_file)}, section={})
    with pytest.raises(TimeoutError, match="bridge_api_key"):
        wait_for_api_key(settings, poll_interval=0.01, timeout=0.2)
