"""Issue 12, cross-company through a real worker: each data-touching task, started by a company-B user
with the rights to start it, runs to its end and leaves company A's rows as they were; a report or
result of B shows no A figure.
"""
import base64
from datetime import date, timedelta

import pytest

from .harness import wait_for
from .trust_setup import psql, world_fixture  # noqa: F401 - the world fixture

TERMINAL = ("success", "failure", "cancelled", "dead")
YESTERDAY = date.today() - timedelta(days=1)


def ids(value):
    return value if isinstance(value, list) else [value]


def wait_terminal(world, job_ids, timeout=90):
    """Poll (deadline) until every job is finished; returns their rows."""
    job_ids = list(job_ids)
    assert job_ids, "no job was dispatched"

    def done():
        rows = psql(world.odoo, f"SELECT id, state FROM smart_dairy_job WHERE id IN ({','.join(map(str, job_ids))})")
        states = dict(line.split("|") for line in rows.splitlines())
        return all(states.get(str(i)) in TERMINAL for i in job_ids) and states

    return wait_for(done, timeout=timeout, interval=0.3, what=f"jobs {job_ids} to finish")


def snapshot(world):
    """Company A's data as SQL sees it: a change anywhere shows."""
    a = world.company["A"]
    queries = {
        "devices": f"SELECT id, state, last_seen FROM smart_dairy_iot_device WHERE company_id = {a} ORDER BY id",
        "readings": f"SELECT count(*), coalesce(sum(value), 0) FROM smart_dairy_iot_reading WHERE company_id = {a}",
        "alerts": f"SELECT id, state, severity, notified_at, write_date FROM smart_dairy_iot_alert "
                  f"WHERE company_id = {a} ORDER BY id",
        "production": f"SELECT id, quantity, reading_count FROM smart_dairy_iot_milk_production "
                      f"WHERE company_id = {a} ORDER BY id",
        "jobs": f"SELECT count(*) FROM smart_dairy_job WHERE company_id = {a}",
        "dead_letters": f"SELECT count(*) FROM smart_dairy_job_dead_letter WHERE company_id = {a}",
        "payments": f"SELECT id, state, transaction_id, job_id FROM smart_dairy_payment WHERE company_id = {a} ORDER BY id",
        "activities": f"SELECT count(*) FROM mail_activity WHERE res_model = 'smart_dairy.iot.alert' AND res_id IN "
                      f"(SELECT id FROM smart_dairy_iot_alert WHERE company_id = {a})",
    }
    return {name: psql(world.odoo, sql) for name, sql in queries.items()}


@pytest.fixture(scope="module")
def a_data(world, worker):
    """Company A: a device seen long ago and marked online, readings of yesterday, a critical alert
    nobody was told of, old finished jobs and settled dead letters, a draft payment, jobs of a task
    type only A ran."""
    a = world.company["A"]
    device_id, code = world.device("A")
    psql(world.odoo, f"""UPDATE smart_dairy_iot_device SET state = 'online',
                         last_seen = (now() AT TIME ZONE 'UTC') - interval '3 hours' WHERE id = {device_id}""")
    psql(world.odoo, f"""INSERT INTO smart_dairy_iot_reading (device_id, company_id, timestamp, metric, value, unit)
                         VALUES ({device_id}, {a}, '{YESTERDAY} 01:00:00', 'milk_yield', 777.25, 'L'),
                                ({device_id}, {a}, '{YESTERDAY} 11:00:00', 'milk_yield', 111.5, 'L'),
                                ({device_id}, {a}, (now() AT TIME ZONE 'UTC') - interval '400 days',
                                 'milk_yield', 5, 'L')""")
    alert = world.alert("A", device_id=device_id, severity="critical")
    old_jobs = [world.finished_job("A", state="success", days_ago=400) for _ in range(2)]
    settled = world.dead_letter("A", state="discarded", days_ago=400)
    payment = world.payment("A")
    # A task only company A ever ran: its name must appear in no report of B.
    for _ in range(3):
        world.finished_job("A", task_name="smart_dairy.health.sleep", state="success")
    psql(world.odoo, f"""UPDATE smart_dairy_job SET date_enqueued = now() AT TIME ZONE 'UTC' - interval '1 minute',
                         date_started = now() AT TIME ZONE 'UTC' - interval '50 seconds'
                         WHERE company_id = {a} AND task_name = 'smart_dairy.health.sleep'""")
    manager_a = f"trust_iot_manager_A_{world.tag}@trust.example"
    return type("AData", (), {"device": device_id, "code": code, "alert": alert, "old_jobs": old_jobs,
                              "settled": settled, "payment": payment, "manager_email": manager_a,
                              "payment_name": world.as_admin("A", "smart_dairy.payment", "read", [payment],
                                                             ["name"])[0]["name"]})


def run_as_b(world, make_jobs, must_succeed=True):
    """Dispatch as B (``make_jobs`` returns job ids, or None to find them), then wait until they end;
    a job that did not succeed proves nothing about scope, so it fails the test unless told otherwise."""
    since = world.max_job_id()
    returned = make_jobs()
    job_ids = ids(returned) if returned else [j for j in world.new_job_ids(since)
                                              if psql(world.odoo, f"SELECT company_id FROM smart_dairy_job WHERE id={j}")
                                              == str(world.company["B"])]
    states = wait_terminal(world, job_ids)
    if must_succeed:
        failed = {j: psql(world.odoo, f"SELECT state, error_type, left(error_message, 300) FROM smart_dairy_job "
                                      f"WHERE id = {j}") for j in job_ids if states[str(j)] != "success"}
        assert not failed, f"company B's job did not succeed: {failed}"
    return job_ids, states


def boss_b(world):
    return world.clients["boss", "B"]


def test_submit_readings_of_a_device_of_a(world, a_data):
    before = snapshot(world)
    readings = [["milk_yield", 999.0, f"{date.today()}T00:00:00Z"], ["temperature", 40.0, f"{date.today()}T00:00:00Z"]]
    job_ids, _states = run_as_b(world, lambda: boss_b(world)("smart_dairy.iot.device", "submit_readings",
                                                            [{"device_id": a_data.code, "readings": readings}]) and None,
                                must_succeed=False)
    assert snapshot(world) == before


def test_sync_device_status(world, a_data):
    before = snapshot(world)
    run_as_b(world, lambda: boss_b(world)("smart_dairy.job", "dispatch", "smart_dairy.iot.sync_device_status",
                                          kwargs={"offline_after_minutes": 1}))
    assert snapshot(world) == before


def test_check_critical_devices(world, a_data):
    before = snapshot(world)
    run_as_b(world, lambda: boss_b(world)("smart_dairy.job", "dispatch", "smart_dairy.iot.check_critical_devices"))
    assert snapshot(world) == before


def test_aggregate_milk_production(world, a_data):
    before = snapshot(world)
    run_as_b(world, lambda: boss_b(world)("smart_dairy.job", "dispatch",
                                          "smart_dairy.aggregation.aggregate_milk_production",
                                          kwargs={"day": str(YESTERDAY)}))
    assert snapshot(world) == before


@pytest.mark.parametrize("report_type", ["milk_production", "job_statistics"])
def test_generate_report_shows_no_figure_of_a(world, a_data, report_type):
    before = snapshot(world)
    client = boss_b(world)
    request = client("smart_dairy.report.request", "create", {
        "report_type": report_type, "date_from": str(YESTERDAY - timedelta(days=1)),
        "date_to": str(date.today() + timedelta(days=1)), "file_format": "csv"})
    client("smart_dairy.report.request", "action_generate", [request])
    job_id = client("smart_dairy.report.request", "read", [request], ["job_id"])[0]["job_id"][0]
    wait_terminal(world, [job_id])
    row = wait_for(lambda: (r := client("smart_dairy.report.request", "read", [request],
                                        ["state", "attachment_id", "error"])[0])["state"] in ("done", "failed") and r,
                   timeout=30, what="the report request to settle")
    assert row["state"] == "done", row
    raw = base64.b64decode(client("ir.attachment", "read", [row["attachment_id"][0]], ["datas"])[0]["datas"])
    text = raw.decode("utf-8-sig")
    for figure in (a_data.code, "777.25", "888.75", "smart_dairy.health.sleep"):
        assert figure not in text, f"B's {report_type} report shows {figure!r} of company A:\n{text[:1500]}"
    # A direct dispatch naming no user is scoped all the same.
    job_ids, _ = run_as_b(world, lambda: client("smart_dairy.job", "dispatch", "smart_dairy.report.generate_report",
                                                kwargs={"report_type": report_type, "date_from": str(YESTERDAY),
                                                        "date_to": str(date.today()), "format": "csv"}))
    result = psql(world.odoo, f"SELECT coalesce(result_json, '') FROM smart_dairy_job WHERE id = {job_ids[0]}")
    attachments = psql(world.odoo, f"SELECT id FROM ir_attachment WHERE res_model = 'smart_dairy.job' "
                                   f"AND res_id = {job_ids[0]}").split()
    for attachment in attachments:
        data = client("ir.attachment", "read", [int(attachment)], ["datas"])[0]["datas"]
        result += base64.b64decode(data or "").decode("utf-8-sig", "replace")
    for figure in (a_data.code, "777.25", "888.75", "smart_dairy.health.sleep"):
        assert figure not in result, f"B's direct {report_type} job shows {figure!r} of company A"
    assert snapshot(world) == before


def test_send_daily_reports_tells_no_manager_of_a(world, a_data, outside):
    before = snapshot(world)
    seen = len(list(outside.smtp.messages))
    run_as_b(world, lambda: boss_b(world)("smart_dairy.job", "dispatch", "smart_dairy.report.send_daily_reports",
                                          kwargs={"report_type": "daily_summary", "day": str(YESTERDAY)}))
    new = list(outside.smtp.messages)[seen:]
    to_a = [m["To"] for m in new if a_data.manager_email in (m["To"] or "")]
    assert to_a == [], f"company A's IoT manager got B's daily report: {to_a}"
    for message in new:
        for part in message.walk():
            payload = part.get_payload(decode=True) or b""
            assert a_data.code.encode() not in payload, "B's daily report names A's device"
    assert snapshot(world) == before


def test_cleanup_old_data_keeps_a_rows(world, a_data):
    before = snapshot(world)
    old = ",".join(map(str, a_data.old_jobs))
    job_ids, _ = run_as_b(world, lambda: boss_b(world)("smart_dairy.job", "dispatch",
                                                       "smart_dairy.maintenance.cleanup_old_data",
                                                       kwargs={"days_to_keep": 1, "batch_size": 100}))
    assert psql(world.odoo, f"SELECT count(*) FROM smart_dairy_job WHERE id IN ({old})") == "2"
    assert psql(world.odoo, f"SELECT count(*) FROM smart_dairy_job_dead_letter WHERE id = {a_data.settled}") == "1"
    assert snapshot(world) == before


def test_process_payment_of_a_reference_of_a(world, a_data, outside):
    before = snapshot(world)
    client = boss_b(world)
    kwargs = {"reference": a_data.payment_name, "gateway": "bkash", "amount": "250.00", "currency": "BDT",
              "payer": "01711000000"}
    since = world.max_job_id()
    try:
        returned = client("smart_dairy.job", "dispatch", "smart_dairy.payment.process_payment", kwargs=kwargs,
                          res_model="smart_dairy.payment", res_id=a_data.payment)
    except Exception:  # noqa: BLE001 - refused at the door is the best outcome
        returned = None
    if returned:
        wait_terminal(world, ids(returned))
    assert world.new_job_ids(since) == [] or returned
    assert snapshot(world) == before
    # Whatever B's job did at the gateway, A's payment is still A's draft, and charging it works.
    assert world.as_admin("A", "smart_dairy.payment", "read", [a_data.payment], ["state"])[0]["state"] == "draft"


def test_idempotency_key_of_a_payment_does_not_block_a(world, a_data):
    """B dispatching with the key A's payment will use gets its own job; A's payment still charges."""
    key = f"payment:{world.company['A']}:{a_data.payment_name}:0"
    client = boss_b(world)
    job_b = ids(client("smart_dairy.job", "dispatch", "smart_dairy.health.ping", idempotency_key=key))[0]
    wait_terminal(world, [job_b])
    world.as_admin("A", "smart_dairy.payment", "action_process", [a_data.payment])
    job_a = world.as_admin("A", "smart_dairy.payment", "read", [a_data.payment], ["job_id"])[0]["job_id"][0]
    assert job_a != job_b
    assert psql(world.odoo, f"SELECT company_id FROM smart_dairy_job WHERE id = {job_a}") == str(world.company["A"])
    wait_terminal(world, [job_a], timeout=60)
    assert world.as_admin("A", "smart_dairy.payment", "read", [a_data.payment], ["state"])[0]["state"] in (
        "paid", "declined", "failed")


def test_control_the_same_tasks_run_by_a_do_change_a(world, a_data):
    """The snapshots above can see a change: run by company A's own user, the same tasks touch A's rows."""
    before = snapshot(world)
    boss_a = world.clients["boss", "A"]
    for task, kwargs in (("smart_dairy.iot.sync_device_status", {"offline_after_minutes": 1}),
                         ("smart_dairy.aggregation.aggregate_milk_production", {"day": str(YESTERDAY)})):
        job_id = ids(boss_a("smart_dairy.job", "dispatch", task, kwargs=kwargs))[0]
        assert wait_terminal(world, [job_id])[str(job_id)] == "success"
    after = snapshot(world)
    assert after["devices"] != before["devices"], "A's stale device was not marked offline by A's own sync"
    assert after["production"] != before["production"], "A's own aggregation wrote no production row"
