"""README › "Install into an existing Odoo 18", done as an integrator would, in fresh virtualenvs.

Odoo 18's own needs and Odoo itself (pip-installed from $ODOO_PATH) stand for the integrator's
existing Odoo; after that only the README's commands for our packages run: wheels built from a copy
of the repository without .git (as a Docker build context or a release archive has it), then one
`pip install` of the operations addon, which must bring the other two addons, queue_job and the
bridge with its dependencies. Odoo then installs the addons with an addons path that does not contain
this repository, and the worker-side commands start. The bridge's wheel alone, in a venv without
Odoo, must give a worker every module it loads. No PYTHONPATH anywhere.
"""
import os
import pkgutil
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
ODOO_PATH = Path(os.environ.get("ODOO_PATH", "/opt/odoo18"))
ODOO_PRESENT = (ODOO_PATH / "odoo-bin").exists()
ADDONS = ("smart_dairy_jobs", "smart_dairy_iot", "smart_dairy_operations")
BRIDGE_MODULES = sorted(
    module.name for module in pkgutil.walk_packages([str(REPO / "celery_bridge")], "celery_bridge.")
    if not module.name.startswith("celery_bridge.tests")
)
# What the integrator's shell would not have: our paths, our venv, an Odoo config of the test run.
ENV = {name: value for name, value in os.environ.items()
       if name not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "ODOO_RC", "OPENERP_SERVER")}


def run(*command, cwd, timeout=600):
    result = subprocess.run([str(part) for part in command], cwd=cwd, env=ENV, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, (f"{' '.join(map(str, command))} exited {result.returncode}\n"
                                    f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return result.stdout


def fresh_venv(path):
    run(sys.executable, "-m", "venv", path, cwd=path.parent)
    return path / "bin"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("install")


@pytest.fixture(scope="module")
def wheels(workdir):
    checkout = workdir / "checkout"
    shutil.copytree(REPO, checkout, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "var", "__pycache__", "*.pyc", "*.egg-info", ".pytest_cache", ".ruff_cache"))
    dist = checkout / "dist"
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", "dist", "./",
        *(f"./addons/{addon}" for addon in ADDONS), cwd=checkout)
    return checkout, dist


def test_the_bridge_wheel_alone_gives_a_worker_every_module_it_loads(workdir, wheels):
    checkout, dist = wheels
    bin_dir = fresh_venv(workdir / "worker-venv")
    run(bin_dir / "pip", "install", "-q", "-c", "constraints.txt", "--find-links", dist, "smart-dairy-celery-bridge",
        cwd=checkout)

    # -W error: a version mismatch libraries warn about at import (requests and chardet) fails too.
    shipped = run(bin_dir / "python", "-W", "error", "-c", """
import importlib, importlib.util, pkgutil, celery_bridge
assert importlib.util.find_spec("odoo") is None, "Odoo must not be needed, nor present here"
for module in pkgutil.walk_packages(celery_bridge.__path__, "celery_bridge."):
    importlib.import_module(module.name)
    print(module.name)
""", cwd=workdir).split()
    assert shipped == BRIDGE_MODULES, "the wheel ships every module of celery_bridge, and no tests"
    assert "Usage: celery worker" in run(bin_dir / "celery", "-A", "celery_bridge", "worker", "--help", cwd=workdir)
    assert "usage: sdj-iot-ingest" in run(bin_dir / "sdj-iot-ingest", "--help", cwd=workdir)
    run(bin_dir / "sdj-worker-healthcheck", "--help", cwd=workdir)
    run(bin_dir / "pip", "check", cwd=workdir)


@pytest.fixture(scope="module")
def database():
    name = f"sdj_install_{os.getpid()}"
    yield name
    connection = psycopg2.connect(host="127.0.0.1", user="odoo", dbname="postgres")
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    connection.close()


@pytest.mark.skipif(not ODOO_PRESENT, reason=f"needs Odoo 18 at {ODOO_PATH} (set ODOO_PATH) to stand for the "
                                             "integrator's Odoo; the worker-only install is tested without it")
def test_one_pip_install_gives_an_existing_odoo_the_three_addons(workdir, wheels, database):
    checkout, dist = wheels
    bin_dir = fresh_venv(workdir / "odoo-venv")
    # The integrator's existing Odoo 18, pip-installed as the addons' wheels require (`odoo==18.0.*`).
    run(bin_dir / "pip", "install", "-q", "-r", REPO / "requirements-odoo.txt", cwd=workdir)
    run(bin_dir / "pip", "install", "-q", "--no-deps", "--config-settings", "editable_mode=compat", "-e", ODOO_PATH,
        cwd=workdir)

    # README › Install into an existing Odoo 18.
    run(bin_dir / "pip", "install", "-q", "-c", "constraints.txt", "--find-links", dist,
        "odoo-addon-smart_dairy_operations", cwd=checkout)

    installed = run(bin_dir / "pip", "list", "--format=freeze", cwd=workdir)
    for distribution in ("odoo-addon-queue_job==18.0.1.7.0", "smart-dairy-celery-bridge==18.0.1.0.0",
                         *(f"odoo-addon-{addon}==18.0.1.1.0" for addon in ADDONS)):
        assert distribution.lower().replace("_", "-") in installed.lower().replace("_", "-")
    run(bin_dir / "pip", "check", cwd=workdir)

    conf = workdir / "odoo.conf"
    conf.write_text(f"[options]\naddons_path = {ODOO_PATH / 'addons'}\ndata_dir = {workdir / 'odoo-data'}\n"
                    "db_host = 127.0.0.1\ndb_user = odoo\nwithout_demo = all\n")
    run(bin_dir / "odoo", "-c", conf, "-d", database, "--load=base,web,queue_job", "-i", ",".join(ADDONS),
        "--stop-after-init", "--log-level=warn", cwd=workdir)

    with psycopg2.connect(host="127.0.0.1", user="odoo", dbname=database) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT name, state FROM ir_module_module WHERE name IN %s", [("queue_job", *ADDONS)])
        assert dict(cursor.fetchall()) == {name: "installed" for name in ("queue_job", *ADDONS)}
    connection.close()
    found = run(bin_dir / "python", "-c", "import importlib.util, sys\n"
                "print(importlib.util.find_spec('odoo.addons.' + sys.argv[1]).origin)", "smart_dairy_jobs", cwd=workdir)
    assert Path(found.strip()).is_relative_to(workdir / "odoo-venv"), "Odoo took the addon from the venv, not the repo"

    # The worker-side commands of the same venv (an Odoo image that also runs workers).
    assert "celery_bridge" in run(bin_dir / "celery", "-A", "celery_bridge", "report", cwd=workdir)
    assert "usage: sdj-iot-ingest" in run(bin_dir / "sdj-iot-ingest", "--help", cwd=workdir)
    run(bin_dir / "sdj-worker-healthcheck", "--help", cwd=workdir)
    run(bin_dir / "sdj-jobs", "--help", cwd=workdir)


def test_pre_commit_runs_the_checks_ci_runs_with_the_same_versions():
    hooks = [hook for repo in yaml.safe_load((REPO / ".pre-commit-config.yaml").read_text())["repos"]
             for hook in repo["hooks"]]
    pins = {line.split("#")[0].strip() for line in (REPO / "requirements-test.txt").read_text().splitlines()}
    ci = (REPO / "scripts" / "run-tests.sh").read_text()
    for tool, pin in (("ruff", "ruff=="), ("pylint", "pylint-odoo==")):
        hook = next(hook for hook in hooks if hook["entry"].startswith(tool + " "))
        assert [dep for dep in hook["additional_dependencies"] if dep.startswith(pin)] == \
            [dep for dep in pins if dep.startswith(pin)]
        assert hook["entry"].split(" ", 1)[1].replace(" --force-exclude", "") in ci
