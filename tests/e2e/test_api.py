"""The XML-RPC API external services use, against a running Odoo server with API keys."""
import json
import subprocess
import sys
import xmlrpc.client
from pathlib import Path

import pytest

from .harness import REPO, Client, odoo_env
from .test_walking_skeleton import wait_for_state


def make_user(admin, login, groups, company_id=None):
    vals = {"name": login, "login": login, "password": login + "-pw-1", "groups_id": [(6, 0, groups)]}
    if company_id:
        vals.update(company_id=company_id, company_ids=[(6, 0, [company_id])])
    return admin("res.users", "create", vals)


def group(admin, xml_id):
    module, name = xml_id.split(".")
    return admin("ir.model.data", "check_object_reference", module, name)[1]


@pytest.fixture(scope="module")
def service(odoo, admin):
    """An external service's account: a Jobs user authenticating with an Odoo API key."""
    make_user(admin, "payments_backend", [group(admin, "smart_dairy_jobs.group_user")])
    key = odoo.run_odoo_python(Path(__file__).with_name("odoo_api_key.py"), "payments_backend").strip()
    return Client(odoo, "payments_backend", key)


@pytest.fixture(scope="module")
def outsider(odoo, admin):
    company_id = admin("res.company", "create", {"name": "Hill Dairy"})
    make_user(admin, "hill_gateway", [group(admin, "smart_dairy_jobs.group_user")], company_id=company_id)
    return Client(odoo, "hill_gateway", "hill_gateway-pw-1")


@pytest.fixture(scope="module")
def clerk(odoo, admin):
    make_user(admin, "clerk", [group(admin, "base.group_user")])
    return Client(odoo, "clerk", "clerk-pw-1")


ACCESS_ERROR, USER_ERROR = 4, 2  # Odoo's XML-RPC fault codes


def fault_of(call, *args, **kwargs):
    with pytest.raises(xmlrpc.client.Fault) as fault:
        call(*args, **kwargs)
    return fault.value


@pytest.fixture
def jobs_users_may_run_fail(admin):
    """health.fail, a diagnostic (system administrators only), opened to Jobs users for one test:
    who may dispatch a task type is data on the type."""
    task_id = admin("smart_dairy.job.task", "search", [("name", "=", "smart_dairy.health.fail")])[0]
    saved = admin("smart_dairy.job.task", "read", [task_id], ["group_ids"])[0]["group_ids"]
    admin("smart_dairy.job.task", "write", [task_id],
          {"group_ids": [(6, 0, [group(admin, "smart_dairy_jobs.group_user")])]})
    yield
    admin("smart_dairy.job.task", "write", [task_id], {"group_ids": [(6, 0, saved)]})


def test_diagnostics_are_refused_to_a_jobs_user(service):
    before = service("smart_dairy.job", "search_count", [])
    fault = fault_of(service, "smart_dairy.job", "dispatch", "smart_dairy.health.fail",
                     kwargs={"error_type": "validation"})
    assert fault.faultCode == ACCESS_ERROR
    assert service("smart_dairy.job", "search_count", []) == before


def test_each_method_with_an_api_key(worker, service, admin, jobs_users_may_run_fail):
    job_id = service("smart_dairy.job", "dispatch", "smart_dairy.health.fail", kwargs={"error_type": "validation"})
    wait_for_state(service, job_id, "failure")
    [status] = service("smart_dairy.job", "get_status", [job_id])
    assert (status["state"], status["error_type"]) == ("failure", "validation")
    pending = service("smart_dairy.job", "dispatch", "smart_dairy.health.ping", countdown=3600)
    assert service("smart_dairy.job", "cancel", [status["uuid"], pending][1:]) == [pending]
    assert service("smart_dairy.job", "get_status", pending)[0]["state"] == "cancelled"
    letters = service("smart_dairy.job.dead.letter", "list_dead_letters")
    [entry] = [row for row in letters if row["job_id"][0] == job_id]
    assert fault_of(service, "smart_dairy.job.dead.letter", "requeue", [entry["id"]]).faultCode == ACCESS_ERROR
    [new_job] = admin("smart_dairy.job.dead.letter", "requeue", [entry["id"]])
    assert service("smart_dairy.job", "get_status", [new_job])[0]["state"] in ("pending", "enqueued", "started",
                                                                               "failure")


def test_a_user_without_the_jobs_group_is_refused_everywhere(clerk):
    for model, method, args in [
        ("smart_dairy.job", "dispatch", ["smart_dairy.health.ping"]),
        ("smart_dairy.job", "get_status", [[1]]),
        ("smart_dairy.job", "cancel", [[1]]),
        ("smart_dairy.job.dead.letter", "list_dead_letters", []),
        ("smart_dairy.job.dead.letter", "requeue", [[1]]),
    ]:
        assert fault_of(clerk, model, method, *args).faultCode == ACCESS_ERROR, (model, method)


def test_another_companys_jobs_are_out_of_reach(service, outsider):
    theirs = outsider("smart_dairy.job", "dispatch", "smart_dairy.health.ping", countdown=3600)
    assert fault_of(service, "smart_dairy.job", "get_status", [theirs]).faultCode == ACCESS_ERROR
    assert fault_of(service, "smart_dairy.job", "cancel", [theirs]).faultCode == ACCESS_ERROR
    assert outsider("smart_dairy.job", "get_status", [theirs])[0]["state"] == "pending"


@pytest.mark.parametrize("model, method, args, kwargs, message", [
    ("smart_dairy.job", "dispatch", ["smart_dairy.health.ping"], {"kwargs": "[1, 2"}, "kwargs is not valid JSON"),
    ("smart_dairy.job", "dispatch", ["smart_dairy.health.ping"], {"priority": 42}, "Priority must be a whole number"),
    ("smart_dairy.job", "dispatch", ["smart_dairy.health.ping"], {"when": "now"}, "Unknown dispatch option(s): when"),
    ("smart_dairy.job", "get_status", [[]], {}, "non-empty list"),
    ("smart_dairy.job", "get_status", [["not-a-uuid"]], {}, "No job with uuid not-a-uuid"),
    ("smart_dairy.job", "cancel", [[True]], {}, "or uuids (text)"),
    ("smart_dairy.job.dead.letter", "list_dead_letters", [], {"limit": -5}, "limit must be a positive whole number"),
])
def test_malformed_calls_are_faults_that_write_nothing(service, model, method, args, kwargs, message):
    before = service("smart_dairy.job", "search_count", [])
    fault = fault_of(service, model, method, *args, **kwargs)
    assert fault.faultCode == USER_ERROR and message in fault.faultString, "a plain message, not a traceback"
    assert service("smart_dairy.job", "search_count", []) == before


def test_the_readme_client_runs(worker, odoo, service):
    env = dict(odoo_env(), ODOO_URL=odoo.url, ODOO_DB=odoo.db, ODOO_CLIENT_LOGIN=service.login,
               ODOO_CLIENT_PASSWORD=service.secret)

    def cli(*args):
        result = subprocess.run([sys.executable, "-m", "celery_bridge.services.cli", *args], cwd=REPO, env=env,
                                capture_output=True, text=True, timeout=60)
        return result

    done = cli("dispatch", "smart_dairy.health.ping", "--wait", "30")
    assert done.returncode == 0, done.stderr
    job = json.loads(done.stdout)
    assert job["state"] == "success"
    assert json.loads(cli("status", str(job["id"]), job["uuid"]).stdout)[0]["id"] == job["id"]
    refused = cli("dispatch", "no.such.task")
    assert refused.returncode == 1 and "Unknown task 'no.such.task'" in refused.stderr
    check = cli("validate-schedules", "--days", "2")
    assert "next_runs" in json.loads(check.stdout)
