"""Issue 12, permission matrix: every group, in two companies, against every API method, every task
category and raw create/write/unlink on every model of the three addons, over real XML-RPC.

Each refused case asserts the fault (access error, code 4, no traceback) AND that nothing was written
(row counts, and the aimed-at row, read in SQL before and after). Each allowed case asserts the call
went through; whatever it dispatched is cancelled at once so no worker ever runs it.
"""
import csv
import xmlrpc.client
from datetime import date, timedelta
from pathlib import Path

import pytest

from .trust_setup import (
    BRIDGE, IOT_MANAGERS, IOT_USERS, JOBS_MANAGERS, JOBS_USERS, OPS_MANAGERS, OPS_USERS, ROLES, SYSADMINS,
    assert_refused, call, caller_rows, counts, fingerprint, table_of, world_fixture,  # noqa: F401 - the world fixture
)

ADDONS = Path(__file__).resolve().parents[2] / "addons"
EVERYONE = set(ROLES)
TODAY = date.today()


def ids(value):
    return value if isinstance(value, list) else [value]


# ---------------------------------------------------------------- API methods
# name -> (who may, how to call it: fn(world, client) -> result). Targets are company A's, callers too.

def _dispatch_ping(w, c):
    return c("smart_dairy.job", "dispatch", "smart_dairy.health.ping", countdown=3600)


def _dispatch_many(w, c):
    return c("smart_dairy.job", "dispatch_many", [{"task_name": "smart_dairy.health.ping", "countdown": 3600}])


def _dispatch_chunked(w, c):
    return c("smart_dairy.job", "dispatch_chunked", "smart_dairy.email.send_bulk_emails",
             ["a@trust.example", "b@trust.example"], chunk_size=1, kwargs={"subject": "s", "body_html": "<p>b</p>"},
             chunk_task_name="smart_dairy.email.send_email_batch", countdown=3600)


def _dispatch_chain(w, c):
    return c("smart_dairy.job", "dispatch_chain", [{"task_name": "smart_dairy.health.ping", "countdown": 3600},
                                                   {"task_name": "smart_dairy.health.ping"}])


def _dispatch_chord(w, c):
    return c("smart_dairy.job", "dispatch_chord", [{"task_name": "smart_dairy.health.ping", "countdown": 3600}],
             {"task_name": "smart_dairy.health.ping"})


def _get_status(w, c):
    return c("smart_dairy.job", "get_status", [w.queued_job("A")])


def _cancel_other(w, c):
    job = w.as_admin("A", "smart_dairy.job", "dispatch", "smart_dairy.health.ping", countdown=3600)
    return c("smart_dairy.job", "cancel", ids(job))


def _list_dead_letters(w, c):
    return c("smart_dairy.job.dead.letter", "list_dead_letters", False)


def _requeue(w, c):
    return c("smart_dairy.job.dead.letter", "requeue", [w.dead_letter("A")])


def _validate_schedules(w, c):
    return c("smart_dairy.job.schedule", "validate_schedules", 7)


def _run_now_ping(w, c):
    return c("smart_dairy.job.schedule", "action_run_now", [w.schedule("A")])


def _run_now_cleanup(w, c):
    return c("smart_dairy.job.schedule", "action_run_now",
             [w.schedule("A", "smart_dairy.maintenance.cleanup_old_data", {"days_to_keep": 36500})])


def _task_statistics(w, c):
    return c("smart_dairy.job.monitor", "task_statistics", str(TODAY - timedelta(days=30)), str(TODAY + timedelta(days=1)))


def _bridge_report(w, c):
    return c("smart_dairy.job", "bridge_report", [])


def _file_report(w, c):
    return c("smart_dairy.job", "bridge_report", [{"kind": "file", "uuid": "no-such-uuid", "attempt": 1,
                                                   "filename": "f.txt", "mimetype": "text/plain", "data": "aGk="}])


def _cleanup_batch(w, c):
    return c("smart_dairy.job.bridge", "cleanup_batch", "no-such-uuid", "jobs", 90, 10)


def _bridge_heartbeat(w, c):
    return c("smart_dairy.job.bridge", "bridge_heartbeat", {"hostname": f"trust@{w.tag}"})


def _submit_readings(w, c):
    device_id, code = w.device("A")
    return c("smart_dairy.iot.device", "submit_readings",
             [{"device_id": code, "readings": [["milk_yield", 1.0, "2026-11-01T00:00:00Z"]]}])


def _notify_critical(w, c):
    return c("smart_dairy.job.bridge", "notify_critical", [w.alert("A")])


def _daily_report_recipients(w, c):
    return c("smart_dairy.job.bridge", "daily_report_recipients", "no-such-uuid")


def _process_payment(w, c):
    return c("smart_dairy.payment", "process_payment", [w.payment("A")])


def _payment_action_process(w, c):
    return c("smart_dairy.payment", "action_process", [w.payment("A")])


def _send_email(w, c):
    return c("smart_dairy.notification", "send_email", "someone@trust.example", subject="Hi", body_html="<p>x</p>",
             countdown=3600)


def _send_sms(w, c):
    return c("smart_dairy.notification", "send_sms", "+8801711000000", "Hello", countdown=3600)


def _send_mail_template(w, c):
    return c("smart_dairy.notification", "send_mail_template", w.mail_template(), [w.partner("A")], countdown=3600)


def _send_bulk_emails(w, c):
    return c("smart_dairy.notification", "send_bulk_emails", ["x@trust.example"], subject="s", body_html="<p>b</p>")


def _acknowledge(w, c):
    return c("smart_dairy.iot.alert", "action_acknowledge", [w.alert("A")])


def _resolve(w, c):
    return c("smart_dairy.iot.alert", "action_resolve", [w.alert("A")])


def _report_generate(w, c):
    request_id = w.as_admin("A", "smart_dairy.report.request", "create", {
        "report_type": "job_statistics", "date_from": str(TODAY), "date_to": str(TODAY), "file_format": "csv"})
    return c("smart_dairy.report.request", "action_generate", [request_id])


def _start_maintenance(w, c):
    return c("smart_dairy.iot.device", "action_start_maintenance", [w.device("A")[0]])


def _bridge_key(w, c):
    return c("smart_dairy.job.bridge.key", "create", {})


API = {
    "dispatch": (JOBS_USERS, _dispatch_ping),
    "dispatch_many": (JOBS_USERS, _dispatch_many),
    "dispatch_chunked": (JOBS_USERS, _dispatch_chunked),
    "dispatch_chain": (JOBS_USERS, _dispatch_chain),
    "dispatch_chord": (JOBS_USERS, _dispatch_chord),
    "get_status": (JOBS_USERS, _get_status),
    "cancel_someone_elses": (JOBS_MANAGERS, _cancel_other),
    "list_dead_letters": (JOBS_USERS, _list_dead_letters),
    "requeue": (JOBS_MANAGERS, _requeue),
    "validate_schedules": (JOBS_USERS, _validate_schedules),
    "action_run_now_ping": (JOBS_USERS, _run_now_ping),
    "action_run_now_cleanup": (JOBS_MANAGERS, _run_now_cleanup),
    "task_statistics": (JOBS_USERS, _task_statistics),
    "bridge_report": (BRIDGE, _bridge_report),
    "bridge_report_file": (BRIDGE, _file_report),
    "cleanup_batch": (BRIDGE, _cleanup_batch),
    "bridge_heartbeat": (BRIDGE, _bridge_heartbeat),
    "submit_readings": (BRIDGE | IOT_MANAGERS, _submit_readings),
    "notify_critical": (BRIDGE, _notify_critical),
    "daily_report_recipients": (BRIDGE, _daily_report_recipients),
    "process_payment": (OPS_USERS, _process_payment),
    "payment.action_process": (OPS_USERS, _payment_action_process),
    "send_email": (JOBS_USERS, _send_email),
    "send_sms": (JOBS_USERS, _send_sms),
    "send_mail_template": (JOBS_USERS, _send_mail_template),
    "send_bulk_emails": (JOBS_USERS, _send_bulk_emails),
    "alert.action_acknowledge": (IOT_USERS, _acknowledge),
    "alert.action_resolve": (IOT_USERS, _resolve),
    "report.action_generate": (OPS_MANAGERS, _report_generate),
    "device.action_start_maintenance": (IOT_MANAGERS, _start_maintenance),
    "bridge_key.create": (JOBS_MANAGERS | SYSADMINS, _bridge_key),
}
# Answers that are about the input, not the caller: reaching them means the access check was passed.
PASSED_ACCESS_CODES = (2,)
EXPECTED_INPUT_FAULT = {"cleanup_batch", "daily_report_recipients"}


@pytest.mark.parametrize("role", sorted(ROLES))
@pytest.mark.parametrize("method", sorted(API))
def test_api_method(world, role, method):
    allowed, run = API[method]
    if method == "bridge_key.create" and role in allowed:
        return  # issuing a key would revoke the workers' key: only refusals are tried
    client = world.clients[role, "A"]
    since = world.max_job_id()
    before = caller_rows(world.odoo, client.uid)
    try:
        outcome = run(world, client)
    except xmlrpc.client.Fault as fault:
        outcome = fault
    created_jobs = world.new_job_ids(since)
    world.cancel_jobs(created_jobs)
    if role in allowed:
        if method in EXPECTED_INPUT_FAULT:
            assert isinstance(outcome, xmlrpc.client.Fault) and outcome.faultCode in PASSED_ACCESS_CODES, (
                f"{role} may call {method}: expected the input to be judged, got {outcome}")
        else:
            assert not isinstance(outcome, xmlrpc.client.Fault), f"{role} may call {method}: {outcome.faultString[-600:]}"
        return
    assert_refused(outcome, what=f"{role} calling {method}")
    assert not _jobs_of_role(world, role, created_jobs), f"{role} calling {method} created jobs {created_jobs}"
    assert caller_rows(world.odoo, client.uid) == before, f"{role} calling {method} wrote rows"


def _jobs_of_role(world, role, job_ids):
    from .trust_setup import psql

    user_id = world.clients[role, "A"].uid
    if not job_ids:
        return []
    return [int(i) for i in psql(world.odoo, f"SELECT id FROM smart_dairy_job WHERE user_id = {user_id} "
                                             f"AND id IN ({','.join(map(str, job_ids))})").split()]


# ---------------------------------------------------------------- task categories

TASKS = {
    # task: (kwargs that fit its schema, the roles the issue lets start it; None: the task type's own groups)
    "smart_dairy.health.ping": ({}, None),
    "smart_dairy.health.touch": ({"path": "trust-touch"}, SYSADMINS),
    "smart_dairy.health.expect_file": ({"path": "trust-expect"}, SYSADMINS),
    "smart_dairy.health.sleep": ({"seconds": 1}, SYSADMINS),
    "smart_dairy.health.fail": ({"error_type": "internal"}, SYSADMINS),
    "smart_dairy.maintenance.cleanup_old_data": ({"days_to_keep": 36500}, JOBS_MANAGERS),
    "smart_dairy.maintenance.backup_database": ({"keep": 30}, JOBS_MANAGERS),
    "smart_dairy.iot.process_sensor_data": ({"device_id": "TR-NONE", "readings": []}, None),
    "smart_dairy.iot.sync_device_status": ({}, None),
    "smart_dairy.iot.check_critical_devices": ({}, None),
    "smart_dairy.aggregation.aggregate_milk_production": ({"day": str(TODAY - timedelta(days=1))}, None),
    "smart_dairy.email.send_email": ({"to": "x@trust.example", "subject": "s", "body_html": "<p>b</p>"}, None),
    "smart_dairy.sms.send_sms": ({"to": "+8801711000000", "text": "hi"}, None),
    "smart_dairy.report.generate_report": ({"report_type": "job_statistics", "date_from": str(TODAY),
                                            "date_to": str(TODAY), "format": "csv"}, None),
    "smart_dairy.report.send_daily_reports": ({"report_type": "daily_summary"}, None),
    "smart_dairy.payment.process_payment": ({"reference": "PAY/TRUST/0001", "gateway": "bkash", "amount": "1.00"},
                                            None),
}
NEVER = {"plain"}  # no task is for people without a business app
BRIDGE_ONLY = {"smart_dairy.iot.process_sensor_data"}  # the MQTT bridge submits readings, and starts nothing else


def _role_groups(world, role):
    from .trust_setup import psql

    uid = world.clients[role, "A"].uid
    return {int(g) for g in psql(world.odoo, f"SELECT gid FROM res_groups_users_rel WHERE uid = {uid}").split()}


def _task_groups(world, task_name):
    from .trust_setup import psql

    rows = psql(world.odoo, f"""SELECT r.group_id FROM smart_dairy_job_task_dispatch_group_rel r
                                  JOIN smart_dairy_job_task t ON t.id = r.task_id WHERE t.name = '{task_name}'""")
    return {int(g) for g in rows.split()} or {world.group("smart_dairy_jobs.group_user")}


@pytest.mark.parametrize("role", sorted(ROLES))
@pytest.mark.parametrize("task_name", sorted(TASKS))
def test_task_category(world, role, task_name):
    kwargs, allowed = TASKS[task_name]
    may = bool(_role_groups(world, role) & _task_groups(world, task_name))
    if allowed is not None:
        assert may == (role in allowed), (
            f"the task type {task_name} lets {role} start it: {may}; the issue says only {sorted(allowed)}")
    if role in NEVER or (role in BRIDGE and task_name not in BRIDGE_ONLY):
        assert not may, f"{role} may start {task_name}"
    since = world.max_job_id()
    before = world.counts()
    outcome = call(world.clients[role, "A"], "smart_dairy.job", "dispatch", task_name, kwargs=kwargs, countdown=3600)
    world.cancel_jobs(world.new_job_ids(since))
    if may:
        assert not isinstance(outcome, xmlrpc.client.Fault), f"{role} may start {task_name}: {outcome.faultString[-600:]}"
        return
    assert_refused(outcome, what=f"{role} dispatching {task_name}")
    assert world.counts() == before


# ---------------------------------------------------------------- raw create / write / unlink

def _access_rows():
    rows = []
    for path in sorted(ADDONS.glob("*/security/ir.model.access.csv")):
        addon = path.parts[-3]
        with open(path) as handle:
            for row in csv.DictReader(handle):
                rows.append((addon, row))
    return rows


ROLE_GROUPS = {  # groups of each role, implied ones included, as xml ids
    "plain": set(), "bridge": {"smart_dairy_jobs.group_bridge"}, "sysadmin": set(),
    "jobs_user": {"smart_dairy_jobs.group_user"},
    "jobs_manager": {"smart_dairy_jobs.group_user", "smart_dairy_jobs.group_manager"},
    "iot_user": {"smart_dairy_iot.group_user"},
    "iot_manager": {"smart_dairy_iot.group_user", "smart_dairy_iot.group_manager"},
    "ops_user": {"smart_dairy_jobs.group_user", "smart_dairy_operations.group_user"},
    "ops_manager": {"smart_dairy_jobs.group_user", "smart_dairy_operations.group_user",
                    "smart_dairy_operations.group_manager"},
}


def _granted():
    granted = {}
    for addon, row in _access_rows():
        group = row["group_id:id"]
        group = group if "." in group else f"{addon}.{group}"
        model = row["model_id:id"].split(".")[-1]
        for op in ("create", "write", "unlink"):
            if row[f"perm_{op}"] == "1":
                granted.setdefault((model, op), set()).add(group)
    return granted


GRANTED = _granted()
MODELS = sorted({model for model, _op in GRANTED} | {row["model_id:id"].split(".")[-1] for _a, row in _access_rows()})
TRANSIENT = {"model_smart_dairy_job_bridge_key", "model_smart_dairy_job_dead_letter_resolve",
             "model_smart_dairy_job_schedule_validation", "model_smart_dairy_job_metrics_wizard",
             "model_smart_dairy_job_metrics_line"}
RAW_CASES = [(model, op, role) for model in MODELS if model not in TRANSIENT for op in ("create", "write", "unlink")
             for role in sorted(ROLES) if not (ROLE_GROUPS[role] & GRANTED.get((model, op), set()))]


def test_every_model_of_the_addons_is_in_the_matrix(world):
    models = world.admin("ir.model", "search_read", [("model", "=like", "smart_dairy.%"), ("transient", "=", False)],
                         ["model"])
    in_matrix = {m.removeprefix("model_") for m in MODELS}
    abstract = {"smart_dairy.job.mixin", "smart_dairy.job.lookup.mixin", "smart_dairy.protected.fields.mixin",
                "smart_dairy.job.monitor", "smart_dairy.notification", "smart_dairy.job.bridge"}
    missing = sorted(m["model"] for m in models if m["model"].replace(".", "_") not in in_matrix
                     and m["model"] not in abstract)
    assert missing == [], f"models with no access rule, so missing from the raw create/write/unlink matrix: {missing}"


_MODEL_NAMES = {}
_HARMLESS = {}


@pytest.fixture(scope="module")
def every_model_has_a_row(world):
    world.row_of_every_model()


@pytest.mark.parametrize("model_ref,op,role", RAW_CASES)
def test_raw_operation_is_refused(world, every_model_has_a_row, model_ref, op, role):
    if not _MODEL_NAMES:
        _MODEL_NAMES.update({m["model"].replace(".", "_"): m["model"] for m in world.admin(
            "ir.model", "search_read", [("model", "=like", "smart_dairy.%")], ["model"])})
    model = _MODEL_NAMES[model_ref.removeprefix("model_")]
    table = table_of(model)
    client = world.clients[role, "A"]
    from .trust_setup import psql

    target = int(psql(world.odoo, f"SELECT coalesce(max(id), 2000000000) FROM {table}"))
    before = world.counts((table,))
    print_before = fingerprint(world.odoo, table, target)
    if op == "create":
        outcome = call(client, model, "create", {})
    elif op == "write":
        outcome = call(client, model, "write", [target], _harmless_vals(world, model, target))
    else:
        outcome = call(client, model, "unlink", [target])
    assert_refused(outcome, what=f"{role}: {op} on {model}")
    assert world.counts((table,)) == before
    assert fingerprint(world.odoo, table, target) == print_before


WRITE_FIELDS = ("name", "note", "message", "description", "hostname", "service", "recipient", "payer_number",
                "device_code", "day", "error")


def _harmless_vals(world, model, target):
    """A field of the model written with the value it has: refused all the same if the caller may not write."""
    if (model, target) not in _HARMLESS:
        _HARMLESS[model, target] = _read_harmless_vals(world, model, target)
    return _HARMLESS[model, target]


def _read_harmless_vals(world, model, target):
    fields = world.admin(model, "fields_get", [], ["type", "readonly", "store"])
    for name in WRITE_FIELDS:
        if name in fields and fields[name].get("store", True):
            rows = world.admin(model, "read", [target], [name], context={
                "active_test": False, "allowed_company_ids": list(world.company.values()) + [world.main_company]}) \
                if target < 2_000_000_000 else []
            value = rows[0][name] if rows else "x"
            return {name: value[0] if isinstance(value, list) else value}
    return {"display_name": "x"}


# ---------------------------------------------------------------- protected fields (the ACL allows the write)

def _paid_write(w):
    payment = w.payment("A")
    return "smart_dairy_payment", payment, ("smart_dairy.payment", "write", [payment],
                                            {"state": "paid", "transaction_id": "FAKE-TX"})


def _paid_create(w):
    return "smart_dairy_payment", None, ("smart_dairy.payment", "create", {
        "partner_id": w.partner("A"), "gateway": "bkash", "payer_number": "01711000000", "amount": 10.0,
        "state": "paid", "transaction_id": "FAKE-TX"})


def _alert_silence(w):
    alert = w.alert("A")
    return "smart_dairy_iot_alert", alert, ("smart_dairy.iot.alert", "write", [alert],
                                            {"severity": "info", "notified_at": "2026-01-01 00:00:00"})


def _job_state(w):
    job = w.queued_job("A")
    return "smart_dairy_job", job, ("smart_dairy.job", "write", [job], {"state": "success", "result_json": "{}"})


def _dead_letter_state(w):
    entry = w.dead_letter("A")
    return "smart_dairy_job_dead_letter", entry, ("smart_dairy.job.dead.letter", "write", [entry],
                                                  {"state": "resolved", "requeued_job_id": False, "attempts": 0})


def _report_state(w):
    request = w.as_admin("A", "smart_dairy.report.request", "create", {
        "report_type": "job_statistics", "date_from": str(TODAY), "date_to": str(TODAY), "file_format": "csv"})
    return "smart_dairy_report_request", request, ("smart_dairy.report.request", "write", [request],
                                                   {"state": "done", "error": False})


PROTECTED = {
    "payment_paid_by_write": (OPS_USERS, _paid_write),
    "payment_created_paid": (OPS_USERS, _paid_create),
    "alert_silenced": (IOT_USERS, _alert_silence),
    "job_state": (JOBS_MANAGERS, _job_state),
    "dead_letter_state": (JOBS_MANAGERS, _dead_letter_state),
    "report_request_state": (OPS_MANAGERS, _report_state),
}


@pytest.mark.parametrize("case", sorted(PROTECTED))
def test_protected_fields_cannot_be_written_raw(world, case):
    roles, make = PROTECTED[case]
    for role in sorted(roles):
        table, row_id, (model, method, *args) = make(world)
        before = world.counts((table,))
        print_before = fingerprint(world.odoo, table, row_id) if row_id else None
        outcome = call(world.clients[role, "A"], model, method, *args)
        assert_refused(outcome, what=f"{role}: {case}")
        assert world.counts((table,)) == before
        if row_id:
            assert fingerprint(world.odoo, table, row_id) == print_before


# ---------------------------------------------------------------- cross-company (company B's users, A's records)

def _b(world, role):
    return world.clients[role, "B"]


def test_b_cannot_read_a_jobs(world):
    job = world.queued_job("A")
    job_uuid = world.as_admin("A", "smart_dairy.job", "read", [job], ["uuid"])[0]["uuid"]
    for role in ("jobs_user", "jobs_manager", "ops_manager"):
        assert_refused(call(_b(world, role), "smart_dairy.job", "get_status", [job]), (2, 4), f"{role}_B get_status")
        assert_refused(call(_b(world, role), "smart_dairy.job", "get_status", [job_uuid]), (2, 4),
                       f"{role}_B get_status by uuid")
        assert_refused(call(_b(world, role), "smart_dairy.job", "read", [job], ["state"]), (2, 4), f"{role}_B read")
        assert job not in _b(world, role)("smart_dairy.job", "search", [("id", "=", job)])


def test_b_cannot_cancel_a_jobs(world):
    job = world.queued_job("A")
    before = fingerprint(world.odoo, "smart_dairy_job", job)
    for terminate in (False, True):
        assert_refused(call(_b(world, "jobs_manager"), "smart_dairy.job", "cancel", [job], terminate), (2, 4),
                       "jobs_manager_B cancel")
        assert_refused(call(_b(world, "jobs_manager"), "smart_dairy.job", "action_cancel", [job]), (2, 4),
                       "jobs_manager_B action_cancel")
    assert fingerprint(world.odoo, "smart_dairy_job", job) == before
    world.cancel_jobs([job])


def test_b_cannot_see_or_requeue_a_dead_letters(world):
    entry = world.dead_letter("A")
    listed = _b(world, "jobs_manager")("smart_dairy.job.dead.letter", "list_dead_letters", False, 1000)
    assert entry not in [row["id"] for row in listed]
    before, print_before = world.counts(), fingerprint(world.odoo, "smart_dairy_job_dead_letter", entry)
    assert_refused(call(_b(world, "jobs_manager"), "smart_dairy.job.dead.letter", "requeue", [entry]), (2, 4),
                   "jobs_manager_B requeue")
    assert_refused(call(_b(world, "jobs_manager"), "smart_dairy.job.dead.letter", "action_requeue", [entry]), (2, 4),
                   "jobs_manager_B action_requeue")
    assert world.counts() == before
    assert fingerprint(world.odoo, "smart_dairy_job_dead_letter", entry) == print_before


def test_b_cannot_run_a_schedules(world):
    schedule = world.schedule("A")
    before = world.counts()
    for role in ("jobs_user", "jobs_manager"):
        assert_refused(call(_b(world, role), "smart_dairy.job.schedule", "action_run_now", [schedule]), (2, 4),
                       f"{role}_B action_run_now")
    assert world.counts() == before


def test_b_cannot_pay_a_payments(world):
    payment = world.payment("A")
    before, print_before = world.counts(), fingerprint(world.odoo, "smart_dairy_payment", payment)
    for role in ("ops_user", "ops_manager"):
        assert_refused(call(_b(world, role), "smart_dairy.payment", "process_payment", [payment]), (2, 4),
                       f"{role}_B process_payment")
        assert_refused(call(_b(world, role), "smart_dairy.payment", "action_process", [payment]), (2, 4),
                       f"{role}_B action_process")
        assert_refused(call(_b(world, role), "smart_dairy.payment", "write", [payment], {"amount": 1.0}), (2, 4),
                       f"{role}_B write")
    assert world.counts() == before
    assert fingerprint(world.odoo, "smart_dairy_payment", payment) == print_before


def test_b_cannot_handle_a_alerts(world):
    alert = world.alert("A")
    print_before = fingerprint(world.odoo, "smart_dairy_iot_alert", alert)
    for method in ("action_acknowledge", "action_resolve"):
        assert_refused(call(_b(world, "iot_manager"), "smart_dairy.iot.alert", method, [alert]), (2, 4),
                       f"iot_manager_B {method}")
    assert fingerprint(world.odoo, "smart_dairy_iot_alert", alert) == print_before


def test_an_idempotency_key_of_a_is_neither_returned_to_nor_blocks_b(world):
    key = f"trust-key-{world.tag}"
    job_a = ids(world.clients["jobs_user", "A"]("smart_dairy.job", "dispatch", "smart_dairy.health.ping",
                                                 idempotency_key=key, countdown=3600))[0]
    job_b = ids(_b(world, "jobs_user")("smart_dairy.job", "dispatch", "smart_dairy.health.ping",
                                       idempotency_key=key, countdown=3600))[0]
    assert job_b != job_a
    world.cancel_jobs([job_a, job_b])
