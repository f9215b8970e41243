"""The dairy's own work end to end (issue 7): mail, SMS, reports, payments, maintenance.

Real Odoo HTTP server, Celery worker, Redis and PostgreSQL; a real SMTP server (aiosmtpd); local
servers speaking the SMS provider's and the bKash / Nagad sandbox's HTTP shapes.
"""
import base64
import csv
import io
import json
import subprocess
import uuid
from pathlib import Path

import pytest

from .harness import signed_headers, wait_for
from .test_walking_skeleton import read_job, wait_for_state


def ids(value):
    return value if isinstance(value, list) else [value]


def messages_to(smtp, address):
    return [m for m in list(smtp.messages) if m["To"] == address]


def logs(admin, job_ids):
    return admin("smart_dairy.notification.log", "search_read", [("job_id", "in", ids(job_ids))],
                 ["recipient", "outcome", "template"])


@pytest.fixture
def customer(admin):
    return admin("res.partner", "create", {"name": "Karim Dairy", "email": f"karim-{uuid.uuid4().hex[:6]}@farm.example"})


# ---------------------------------------------------------------- notifications

def test_an_odoo_mail_template_is_rendered_and_received_over_smtp(admin, worker, outside, customer):
    template = admin("mail.template", "create", {
        "name": "Collection notice", "model_id": admin("ir.model", "search", [("model", "=", "res.partner")])[0],
        "subject": "Milk collected from {{ object.name }}", "email_to": "{{ object.email }}",
        "body_html": "<p>Dear <t t-out='object.name'/>, 120 L collected today.</p>",
    })
    job_ids = ids(admin("smart_dairy.notification", "send_mail_template", template, [customer]))
    wait_for_state(admin, job_ids[0], "success")
    email = admin("res.partner", "read", [customer], ["email"])[0]["email"]
    [message] = wait_for(lambda: messages_to(outside.smtp, email), what="the mail to arrive")
    assert message["Subject"] == "Milk collected from Karim Dairy"
    assert "120 L collected today" in message.get_body(("plain",)).get_content()
    assert "Dear Karim Dairy" in message.get_body(("html",)).get_content()
    assert logs(admin, job_ids)[0]["outcome"] == "sent"


def test_a_refused_recipient_fails_at_once_without_retry(admin, worker, outside):
    address = f"gone-{uuid.uuid4().hex[:6]}@farm.example"
    outside.smtp.refuse(address, code=550)
    job_id = admin("smart_dairy.notification", "send_email", address, template="daily_report",
                   values={"report_date": "2026-11-20", "litres": "10", "devices": 1})
    job = wait_for_state(admin, ids(job_id)[0], ("failure",))
    assert (job["attempt"], job["error_type"]) == (1, "validation")
    assert logs(admin, job_id)[0]["outcome"] == "refused"


def test_the_email_rate_limit_holds(admin, worker, outside, task_settings):
    task_settings("smart_dairy.email.send_email", rate_limit="30/m")  # one mail every 2 s
    before = len(outside.smtp.received_at)
    job_ids = [ids(admin("smart_dairy.notification", "send_email", f"rate{i}@farm.example", subject="Rate",
                         body_html="<p>rate</p>"))[0] for i in range(3)]
    for job_id in job_ids:
        wait_for_state(admin, job_id, "success", timeout=60)
    times = outside.smtp.received_at[before:before + 3]
    assert len(times) == 3
    # A token bucket at 30/min lets the first through at once, then one every 2 s.
    assert times[2] - times[0] >= 3.5, times


def test_bulk_mail_goes_out_in_chunks_of_100_with_every_outcome(admin, worker, outside, task_settings):
    task_settings("smart_dairy.email.send_email_batch", rate_limit="")  # 1/min in production: 3 min here
    tag = uuid.uuid4().hex[:6]
    recipients = [f"bulk{i}-{tag}@farm.example" for i in range(250)]
    refused = recipients[7]
    outside.smtp.refuse(refused)
    parent_id = ids(admin("smart_dairy.notification", "send_bulk_emails", recipients, template="daily_report",
                          values={"report_date": "2026-11-20", "litres": "10", "devices": 1}))[0]
    parent = wait_for(lambda: (job := admin("smart_dairy.job", "read", [parent_id],
                                            ["state", "progress", "chunk_count", "result_json", "child_ids"])[0])
                      ["state"] in ("success", "failure") and job, timeout=90, what="the bulk mailing")
    assert (parent["state"], parent["chunk_count"], parent["progress"], len(parent["child_ids"])) == (
        "success", 3, 100, 3)
    outcomes = {o["recipient"]: o["outcome"] for o in json.loads(parent["result_json"])["outcomes"]}
    assert len(outcomes) == 250 and outcomes[refused] == "refused"
    assert sum(1 for value in outcomes.values() if value == "sent") == 249
    received = {m["To"] for m in list(outside.smtp.messages) if tag in m["To"]}
    assert len(received) == 249 and refused not in received
    assert len(logs(admin, parent["child_ids"])) == 250


def test_a_chunk_retried_after_an_smtp_hiccup_mails_nobody_twice(admin, worker, outside, task_settings):
    task_settings("smart_dairy.email.send_email_batch", rate_limit="", retry_backoff_base=0.2, retry_backoff_max=1.0)
    tag = uuid.uuid4().hex[:6]
    first, busy, last = (f"{name}-{tag}@farm.example" for name in ("first", "busy", "last"))
    outside.smtp.refuse(busy, code=451, times=1)  # "try again later", once
    parent_id = ids(admin("smart_dairy.notification", "send_bulk_emails", [first, busy, last],
                          subject="Collection times change", body_html="<p>From Monday, 6:00.</p>"))[0]
    parent = wait_for(lambda: (job := admin("smart_dairy.job", "read", [parent_id], ["state", "child_ids"])[0])
                      ["state"] in ("success", "failure") and job, timeout=60, what="the mailing")
    assert parent["state"] == "success"
    chunk = read_job(admin, parent["child_ids"][0])
    assert chunk["attempt"] == 2  # the 451 failed the first attempt
    received = [m["To"] for m in list(outside.smtp.messages) if tag in m["To"]]
    assert sorted(received) == sorted([first, busy, last])  # first was not mailed again on the retry


def test_an_sms_goes_through_the_provider_and_is_logged_masked(admin, worker, outside):
    job_id = ids(admin("smart_dairy.notification", "send_sms", "01711223344", "Milk collected: 120 L"))[0]
    wait_for_state(admin, job_id, "success")
    assert any(m["to"] == "+8801711223344" and m["text"] == "Milk collected: 120 L" for m in outside.sms.messages)
    [log] = logs(admin, job_id)
    assert log["outcome"] == "sent" and "1711223344" not in log["recipient"]


# ---------------------------------------------------------------- reports

def read_back(fmt, raw):
    if fmt == "csv":
        return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    if fmt == "xlsx":
        import openpyxl

        sheet = openpyxl.load_workbook(io.BytesIO(raw)).active
        return [[cell.value for cell in row] for row in sheet.iter_rows()]
    from pypdf import PdfReader

    return ["\n".join(page.extract_text() for page in PdfReader(io.BytesIO(raw)).pages)]


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "pdf"])
def test_a_report_file_of_each_format_is_attached_and_the_user_told(admin, worker, outside, fmt):
    admin("res.users", "write", [admin.uid], {"email": "admin@farm.example"})
    wait_for_state(admin, ids(admin("smart_dairy.job", "dispatch", "smart_dairy.health.ping"))[0], "success")
    request_id = admin("smart_dairy.report.request", "create", {
        "report_type": "job_statistics", "date_from": "2026-01-01", "date_to": "2030-12-31", "file_format": fmt})
    before = len(messages_to(outside.smtp, "admin@farm.example"))
    admin("smart_dairy.report.request", "action_generate", [request_id])
    request = wait_for(lambda: (r := admin("smart_dairy.report.request", "read", [request_id],
                                           ["state", "attachment_id", "job_id", "error"])[0])["state"]
                       in ("done", "failed") and r, timeout=60, what="the report")
    assert request["state"] == "done", request
    job = read_job(admin, request["job_id"][0])
    attachment = admin("ir.attachment", "read", [request["attachment_id"][0]], ["datas", "name", "res_model", "res_id"])[0]
    assert (attachment["res_model"], attachment["res_id"]) == ("smart_dairy.job", request["job_id"][0])
    content = read_back(fmt, base64.b64decode(attachment["datas"]))
    text = json.dumps(content)
    assert "smart_dairy.health.ping" in text and "celery" in text
    assert json.loads(job["result_json"])["filename"].endswith("." + fmt)
    messages = admin("mail.message", "search_read", [("model", "=", "smart_dairy.report.request"),
                                                     ("res_id", "=", request_id), ("message_type", "=", "comment")],
                     ["body"])
    assert any("is ready" in m["body"] for m in messages)
    mail = wait_for(lambda: messages_to(outside.smtp, "admin@farm.example")[before:], what="the report mail")[0]
    assert f"smart_dairy_report_request_action/{request_id}" in mail.get_body(("plain",)).get_content()


# ---------------------------------------------------------------- payments

def make_payment(admin, customer, payer="01711000000", gateway="bkash", amount=500.0):
    return admin("smart_dairy.payment", "create", {"partner_id": customer, "gateway": gateway,
                                                   "payer_number": payer, "amount": amount})


def settle(admin, payment_id, timeout=60):
    admin("smart_dairy.payment", "action_process", [payment_id])
    return wait_for(lambda: (p := admin("smart_dairy.payment", "read", [payment_id],
                                        ["state", "name", "transaction_id", "job_id", "gateway_message"])[0])
                    ["state"] not in ("draft", "processing") and p, timeout=timeout, what="the payment to settle")


@pytest.mark.parametrize("gateway", ["bkash", "nagad"])
def test_a_payment_is_charged_once_and_confirmed(admin, worker, outside, customer, gateway):
    payment = settle(admin, make_payment(admin, customer, gateway=gateway))
    assert payment["state"] == "paid" and payment["transaction_id"]
    [charge] = outside.sandbox.charges(gateway, payment["name"])
    assert charge["transaction_id"] == payment["transaction_id"]
    email = admin("res.partner", "read", [customer], ["email"])[0]["email"]
    wait_for(lambda: any(payment["name"] in m["Subject"] for m in messages_to(outside.smtp, email)),
             what="the confirmation mail")


def test_a_decline_is_not_retried_and_the_customer_is_told(admin, worker, outside, customer):
    payment = settle(admin, make_payment(admin, customer, payer="01700000000"))
    assert payment["state"] == "declined" and "Insufficient Balance" in payment["gateway_message"]
    job = read_job(admin, payment["job_id"][0])
    assert (job["state"], job["attempt"]) == ("success", 1)
    assert outside.sandbox.charges("bkash", payment["name"]) == []
    email = admin("res.partner", "read", [customer], ["email"])[0]["email"]
    wait_for(lambda: any("did not go through" in m["Subject"] for m in messages_to(outside.smtp, email)),
             what="the decline mail")


def test_a_lost_reply_is_retried_without_charging_twice(admin, worker, outside, customer, task_settings):
    task_settings("smart_dairy.payment.process_payment", retry_backoff_base=0.2, retry_backoff_max=1.0)
    outside.sandbox.script("bkash.execute", "lost_reply")  # charged, but the reply comes too late
    payment = settle(admin, make_payment(admin, customer))
    assert payment["state"] == "paid"
    job = read_job(admin, payment["job_id"][0])
    assert job["attempt"] == 2 and job["state"] == "success"
    assert len(outside.sandbox.charges("bkash", payment["name"])) == 1


def test_two_runs_at_once_for_one_payment_charge_once(admin, worker, outside, broker, customer):
    """Two task runs for one reference at the same moment (a redelivery racing a rogue resend): one charge."""
    from celery_bridge.broker.app_factory import make_app
    from celery_bridge.core.config import load_settings

    reference = f"PAY-RACE-{uuid.uuid4().hex[:6]}"
    app = make_app(load_settings({"CELERY_BROKER_URL": broker.url + "/0", "CELERY_RESULT_BACKEND": broker.url + "/1"},
                                 section={}), current=False)
    kwargs = {"reference": reference, "gateway": "bkash", "amount": "300.00", "currency": "BDT",
              "payer": "01711000000"}
    run_ids = [str(uuid.uuid4()) for _ in range(2)]
    runs = [app.send_task("smart_dairy.payment.process_payment", kwargs=kwargs, queue="celery:payment", task_id=run_id,
                          headers=signed_headers("smart_dairy.payment.process_payment", run_id, kwargs=kwargs))
            for run_id in run_ids]
    outcomes = [run.get(timeout=60, propagate=False) for run in runs]
    completed = [o for o in outcomes if isinstance(o, dict) and o.get("status") == "completed"]
    assert len(completed) >= 1, outcomes
    assert len(outside.sandbox.charges("bkash", reference)) == 1


def test_a_payment_failing_for_good_is_marked_failed_and_dead_lettered(admin, worker, outside, customer,
                                                                        task_settings):
    task_settings("smart_dairy.payment.process_payment", max_retries=1, retry_backoff_base=0.2,
                  retry_backoff_max=1.0)
    outside.sandbox.script("bkash.grant", "error", count=2)  # the gateway is down for both attempts
    payment = settle(admin, make_payment(admin, customer))
    assert payment["state"] == "failed"
    job = read_job(admin, payment["job_id"][0])
    assert (job["state"], job["attempt"], job["error_type"]) == ("failure", 2, "network_timeout")
    [entry] = admin("smart_dairy.job.dead.letter", "search_read", [("job_id", "=", payment["job_id"][0])], ["state"])
    assert entry["state"] == "new"
    assert outside.sandbox.charges("bkash", payment["name"]) == []


# ---------------------------------------------------------------- maintenance

def psql(odoo, sql):
    return subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", odoo.db, "-tAc", sql],
                          capture_output=True, text=True, check=True).stdout.strip()


def test_cleanup_removes_exactly_what_it_should(admin, worker, odoo):
    old = [ids(admin("smart_dairy.job", "dispatch", "smart_dairy.health.ping"))[0] for _ in range(3)]
    for job_id in old:
        wait_for_state(admin, job_id, "success")
    keep = old.pop()
    psql(odoo, "UPDATE smart_dairy_job SET date_done = now() - interval '100 days' WHERE id IN (%s)"
         % ",".join(map(str, old)))
    device = admin("smart_dairy.iot.device", "create", {"name": "Old meter", "device_code": f"OLD-{uuid.uuid4().hex[:6]}",
                                                        "device_type": "milk_meter"})
    psql(odoo, f"""INSERT INTO smart_dairy_iot_reading (device_id, company_id, timestamp, metric, value, unit)
                   SELECT {device}, 1, (now() AT TIME ZONE 'UTC') - (n || ' days 12 hours')::interval,
                          'milk_yield', 10, 'L'
                     FROM generate_series(0, 119) n""")
    job_id = ids(admin("smart_dairy.job", "dispatch", "smart_dairy.maintenance.cleanup_old_data",
                       kwargs={"days_to_keep": 90, "batch_size": 1}))[0]
    job = wait_for_state(admin, job_id, ("success", "failure"), timeout=60)
    assert job["state"] == "success", job
    removed = json.loads(job["result_json"])["removed"]
    assert (removed["jobs"], removed["readings"]) == (2, 30)  # readings 90.5 to 119.5 days old
    assert admin("smart_dairy.job", "search", [("id", "in", old)]) == []
    assert admin("smart_dairy.job", "search", [("id", "=", keep)]) == [keep]
    assert int(psql(odoo, f"SELECT count(*) FROM smart_dairy_iot_reading WHERE device_id = {device}")) == 90


def test_a_backup_restores_with_pg_restore_and_rotation_keeps_the_newest(admin, worker, outside):
    files = []
    for _ in range(3):
        job_id = ids(admin("smart_dairy.job", "dispatch", "smart_dairy.maintenance.backup_database",
                           kwargs={"keep": 2}))[0]
        job = wait_for_state(admin, job_id, ("success", "failure"), timeout=120)
        assert job["state"] == "success", job
        files.append(json.loads(job["result_json"])["file"])
    folder = Path(outside.env["BACKUP_DIR"])
    assert sorted(p.name for p in folder.glob("*.dump")) == sorted(Path(f).name for f in files[1:])
    listing = subprocess.run(["pg_restore", "--list", files[-1]], capture_output=True, text=True)
    assert listing.returncode == 0, listing.stderr
    assert "TABLE DATA public smart_dairy_job " in listing.stdout


def test_the_daily_report_reaches_the_iot_managers_with_its_pdf(admin, worker, outside, odoo):
    from datetime import datetime, timedelta

    import pytz
    from pypdf import PdfReader

    address = f"manager-{uuid.uuid4().hex[:6]}@farm.example"
    admin("res.users", "write", [admin.uid], {"email": address})  # admin is an IoT manager
    code = f"DAILY-{uuid.uuid4().hex[:6]}"
    device = admin("smart_dairy.iot.device", "create", {"name": f"Meter {code}", "device_code": code,
                                                        "device_type": "milk_meter"})
    day = datetime.now(pytz.timezone("Asia/Dhaka")).date() - timedelta(days=1)
    psql(odoo, f"""INSERT INTO smart_dairy_iot_reading (device_id, company_id, timestamp, metric, value, unit)
                   VALUES ({device}, 1, '{day} 00:30:00', 'milk_yield', 14.5, 'L'),
                          ({device}, 1, '{day} 11:30:00', 'milk_yield', 12.0, 'L')""")
    job_id = ids(admin("smart_dairy.job", "dispatch", "smart_dairy.report.send_daily_reports",
                       kwargs={"report_type": "daily_summary"}))[0]
    job = wait_for_state(admin, job_id, ("success", "failure"), timeout=60)
    assert job["state"] == "success", job
    [message] = wait_for(lambda: messages_to(outside.smtp, address), what="the daily report mail")
    assert str(day) in message["Subject"]
    [attachment] = list(message.iter_attachments())
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(attachment.get_content())).pages)
    assert code in text and "26.5" in text
    assert [log["outcome"] for log in logs(admin, job_id)] == ["sent"]
