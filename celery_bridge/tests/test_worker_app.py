"""The worker app and the protocol it shares with Odoo, as a reader of the folders expects them:
every task is an OdooJobTask without saying so, Odoo's publisher never loads the worker, and the wire
names (headers, Redis keys) are spelled in celery_bridge/core/protocol.py only."""
import re
import subprocess
import sys
from pathlib import Path

from celery_bridge.core import protocol

PACKAGE = Path(__file__).resolve().parents[1]


def test_every_bridge_task_is_an_odoo_job_task():
    from celery_bridge.broker.app_factory import TASK_MODULES
    from celery_bridge.celery import app
    from celery_bridge.worker.task import OdooJobTask

    app.loader.import_default_modules()
    for module in TASK_MODULES:
        __import__(module)
    tasks = {name: task for name, task in app.tasks.items() if name.startswith("smart_dairy.")}
    assert len(tasks) >= 10
    assert [name for name, task in tasks.items() if not isinstance(task, OdooJobTask)] == []


def test_the_publisher_does_not_load_the_worker():
    code = ("import sys\n"
            "from celery_bridge.broker import producer\n"
            "from celery_bridge.core.config import load_settings\n"
            "producer.publisher_app(load_settings({}, section={}))\n"
            "print(sorted(m for m in sys.modules if m.startswith(('celery_bridge.worker', 'celery_bridge.tasks',"
            " 'celery_bridge.celery'))))\n")
    loaded = subprocess.run([sys.executable, "-c", code], cwd=PACKAGE.parent, capture_output=True, text=True,
                            check=True).stdout.strip()
    assert loaded == "[]"


def test_wire_names_are_spelled_in_the_protocol_module_only():
    spelled = re.compile(r"""["']sdj[:_](?!runtime)""")  # sdj_runtime: a request attribute, not on the wire
    offenders = [f"{path.relative_to(PACKAGE)}:{number}"
                 for path in sorted(PACKAGE.rglob("*.py"))
                 if "tests" not in path.parts and path.name != "protocol.py"
                 for number, line in enumerate(path.read_text().splitlines(), start=1) if spelled.search(line)]
    assert offenders == []


def test_header_names_are_those_odoo_and_the_workers_agree_on():
    from celery_bridge.broker import producer
    from celery_bridge.core import signing

    assert producer.ATTEMPT_HEADER == protocol.ATTEMPT_HEADER == "sdj_attempt"
    assert signing.HEADER == protocol.SIGNATURE_HEADER
    assert protocol.TAKEN_OUTCOMES == {protocol.APPLIED, protocol.IGNORED}
