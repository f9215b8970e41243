"""Issue 12, bad input at every door: each malformed call gets an XML-RPC fault that says what was
wrong (never a Python traceback, never code 1) and writes nothing (row counts before and after).

XML-RPC cannot carry inf or nan as doubles; the largest double (1e308) and the strings 'inf' / 'nan'
are what a caller can send.
"""
import json

import pytest

from .trust_setup import assert_clean_fault, call, caller_rows, world_fixture  # noqa: F401 - the world fixture

PING = "smart_dairy.health.ping"
MB10 = "x" * (10 * 1024 * 1024)


def job(*args, **kwargs):
    return ("admin", "smart_dairy.job", "dispatch", args, kwargs)


def notif(method, *args, **kwargs):
    return ("admin", "smart_dairy.notification", method, args, kwargs)


def bridge(model, method, *args, **kwargs):
    return ("bridge", model, method, args, kwargs)


def _readings(count):
    return json.dumps([["milk_yield", 1.0, "2026-11-01T00:00:00Z"]] * count)


# case -> (caller, model, method, args, kwargs, what the fault must mention)
CASES = {
    "countdown_1e20": (*job(PING, countdown=1e20), "countdown|horizon|far"),
    "countdown_1e308": (*job(PING, countdown=1e308), "countdown|horizon|far"),
    "countdown_inf_text": (*job(PING, countdown="inf"), "countdown"),
    "countdown_nan_text": (*job(PING, countdown="nan"), "countdown"),
    "countdown_negative_huge": (*job(PING, countdown=-1e20), "countdown"),
    "eta_garbage": (*job(PING, eta="next tuesday-ish"), "eta"),
    "priority_out_of_range": (*job(PING, priority=99), "priority"),
    "unknown_queue": (*job(PING, queue="no-such-queue"), "queue"),
    "unknown_task": (*job("smart_dairy.no.such.task"), "task"),
    "task_name_not_a_string": (*job(12345), "task"),
    "res_model_abstract": (*job(PING, res_model="smart_dairy.job.mixin", res_id=1), "res_model|model|stored record"),
    "res_model_unknown": (*job(PING, res_model="no.such.model", res_id=1), "res_model|model"),
    "res_id_not_an_int": (*job(PING, res_model="res.partner", res_id="abc"), "res_id"),
    "kwargs_10mb": (*job("smart_dairy.email.send_email", kwargs={"to": "a@trust.example", "body_html": MB10}),
                    "large|size|bytes|long|limit|body_html"),
    "args_not_json": (*job(PING, args="{not json"), "args|json"),
    "idempotency_key_100k": (*job(PING, idempotency_key="k" * 100_000), "idempotency|key"),
    "origin_claimed": (*job(PING, origin="cron"), "origin|option"),
    "dispatch_many_5000": ("admin", "smart_dairy.job", "dispatch_many",
                           ([{"task_name": PING}] * 5000,), {}, "at most|1000|many"),
    "dispatch_many_not_a_list": ("admin", "smart_dairy.job", "dispatch_many", ("ping",), {}, "list"),
    "dispatch_parent_only_task": (*job("smart_dairy.email.send_bulk_emails", kwargs={"subject": "s", "body_html": "b"}),
                                  "only groups chunks"),
    "dispatch_many_parent_only_task": ("admin", "smart_dairy.job", "dispatch_many",
                                       ([{"task_name": PING}, {"task_name": "smart_dairy.email.send_bulk_emails"}],), {},
                                       "only groups chunks"),
    "dispatch_chunked_zero_chunk": ("admin", "smart_dairy.job", "dispatch_chunked",
                                    ("smart_dairy.email.send_bulk_emails", ["a@trust.example"]),
                                    {"chunk_size": 0, "chunk_task_name": "smart_dairy.email.send_email_batch"},
                                    "chunk"),
    "dispatch_chunked_items_not_a_list": ("admin", "smart_dairy.job", "dispatch_chunked",
                                          ("smart_dairy.email.send_bulk_emails", "abc"),
                                          {"chunk_task_name": "smart_dairy.email.send_email_batch"}, "items|list"),
    "get_status_garbage": ("admin", "smart_dairy.job", "get_status", ({"a": 1},), {}, "job|id|uuid"),
    "get_status_unknown_id": ("admin", "smart_dairy.job", "get_status", ([2_000_000_000],), {}, "no job"),
    "cancel_garbage": ("admin", "smart_dairy.job", "cancel", ("abc",), {}, "job|uuid"),
    "list_dead_letters_bad_state": ("admin", "smart_dairy.job.dead.letter", "list_dead_letters", ("bogus",), {}, "state"),
    "list_dead_letters_bad_limit": ("admin", "smart_dairy.job.dead.letter", "list_dead_letters", ("new", -5), {},
                                    "limit"),
    "requeue_garbage": ("admin", "smart_dairy.job.dead.letter", "requeue", ("abc",), {}, "dead.letter|id"),
    "validate_schedules_days_zero": ("admin", "smart_dairy.job.schedule", "validate_schedules", (0,), {}, "days"),
    "validate_schedules_days_text": ("admin", "smart_dairy.job.schedule", "validate_schedules", ("abc",), {}, "days"),
    "task_statistics_bad_dates": ("admin", "smart_dairy.job.monitor", "task_statistics", ("yesterday", 5), {},
                                  "date"),
    "bridge_report_not_a_list": (*bridge("smart_dairy.job", "bridge_report", "abc"), "list"),
    "bridge_report_5001": (*bridge("smart_dairy.job", "bridge_report", [{"uuid": "x"}] * 5001), "at most|5000"),
    "cleanup_batch_bad_kind": (*bridge("smart_dairy.job.bridge", "cleanup_batch", "no-such", "everything", 90), "kind"),
    "heartbeat_not_a_dict": (*bridge("smart_dairy.job.bridge", "bridge_heartbeat", "abc"), "heartbeat|dict"),
    "heartbeat_bad_concurrency": (*bridge("smart_dairy.job.bridge", "bridge_heartbeat",
                                          {"hostname": "trust-bad", "concurrency": "abc"}), "concurrency"),
    "heartbeat_huge_hostname": (*bridge("smart_dairy.job.bridge", "bridge_heartbeat", {"hostname": "h" * 100_000}),
                                "hostname|long"),
    "notify_critical_garbage": (*bridge("smart_dairy.job.bridge", "notify_critical", "abc"), "alert|id"),
    "submit_readings_100k": ("admin", "smart_dairy.iot.device", "submit_readings",
                             ([{"device_id": "TRUST-ANY", "readings": _readings(100_000)}],), {},
                             "readings|at most|20000|20,000"),
    "submit_readings_2000_batches": ("admin", "smart_dairy.iot.device", "submit_readings",
                                     ([{"device_id": "TRUST-ANY", "readings": "[]"}] * 2000,), {},
                                     "batches|at most|1000"),
    "submit_readings_not_a_list": ("admin", "smart_dairy.iot.device", "submit_readings", ("abc",), {}, "batches|list"),
    "payment_amount_text": ("admin", "smart_dairy.payment", "create",
                            ({"partner_id": "PARTNER_A", "gateway": "bkash", "payer_number": "01711000000", "amount": "abc"},),
                            {}, "amount"),
    "payment_unknown_gateway": ("admin", "smart_dairy.payment", "create",
                                ({"partner_id": "PARTNER_A", "gateway": "paypal", "payer_number": "01711000000",
                                  "amount": 10.0},), {}, "gateway"),
    "payment_negative_amount": ("admin", "smart_dairy.payment", "create",
                                ({"partner_id": "PARTNER_A", "gateway": "bkash", "payer_number": "01711000000",
                                  "amount": -5.0},), {}, "amount|positive"),
    "process_payment_garbage": ("admin", "smart_dairy.payment", "process_payment", ("abc",), {}, "payment|id"),
    "process_payment_unknown_id": ("admin", "smart_dairy.payment", "process_payment", ([2_000_000_000],), {},
                                   "payment|exist|no "),
    "mail_to_at_sign": (*notif("send_email", "@", subject="s", body_html="<p>b</p>"), "email|address"),
    "mail_header_injection": (*notif("send_email", "a@trust.example\r\nBcc: victim@evil.example", subject="s",
                                     body_html="<p>b</p>"), "email|address"),
    "mail_subject_injection": (*notif("send_email", "a@trust.example", subject="Hi\r\nBcc: victim@evil.example",
                                      body_html="<p>b</p>"), "subject"),
    "mail_unknown_template": (*notif("send_email", "a@trust.example", template="no_such_template"), "template"),
    "mail_template_unknown_xmlid": (*notif("send_mail_template", "no_such_module.no_such_template", [1]), "template"),
    "mail_template_unknown_id": (*notif("send_mail_template", 2_000_000_000, [1]), "template"),
    "bulk_mail_bad_address": (*notif("send_bulk_emails", ["ok@trust.example", "@"], subject="s", body_html="b"),
                              "email|address"),
    "bulk_mail_not_a_list": (*notif("send_bulk_emails", "a@trust.example", subject="s", body_html="b"), "list"),
    "sms_to_empty": (*notif("send_sms", "", "hello"), "phone|number|to"),
    "sms_to_dict": (*notif("send_sms", {"a": 1}, "hello"), "phone|number|to"),
    "sms_text_huge": (*notif("send_sms", "+8801711000000", "x" * 100_000), "text|long|1600"),
}


@pytest.fixture(scope="module")
def callers(world):
    # A company-A user with every business right (not the administrator, whose crons run meanwhile).
    return {"admin": world.clients["boss", "A"], "bridge": world.clients["bridge", "A"],
            "partner_a": world.partner("A")}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_refused_cleanly_and_writes_nothing(world, callers, case):
    caller, model, method, args, kwargs, mentions = CASES[case]
    client = callers[caller]
    args = tuple(dict(a, partner_id=callers["partner_a"]) if isinstance(a, dict) and a.get("partner_id") == "PARTNER_A"
                 else a for a in args)
    before, written_before = world.counts(), caller_rows(world.odoo, client.uid)
    since = world.max_job_id()
    outcome = call(client, model, method, *args, **kwargs)
    world.cancel_jobs(world.new_job_ids(since))
    assert_clean_fault(outcome, mentions, what=case)
    after = world.counts()
    assert {t: (before[t], after[t]) for t in before if before[t] != after[t]} == {}, f"{case} wrote rows"
    assert caller_rows(world.odoo, client.uid) == written_before, f"{case} wrote rows"
