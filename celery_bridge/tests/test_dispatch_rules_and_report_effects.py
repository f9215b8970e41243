"""The engine's decisions that need no Odoo: dispatch checks and what a report writes."""
import json
from datetime import datetime, timedelta

import pytest

from celery_bridge.core import dispatch_rules, jobstate, limits, report_effects
from celery_bridge.core.dispatch_rules import DispatchRefused

NOW = datetime(2026, 1, 31, 12, 0, 0)


def test_unknown_options_and_origin_are_refused():
    dispatch_rules.check_options({"queue": "celery", "priority": 3})
    with pytest.raises(DispatchRefused, match=r"Unknown dispatch option\(s\): origin"):
        dispatch_rules.check_options({"origin": "cron"})


def test_json_arguments_are_decoded_and_checked():
    assert dispatch_rules.decode_json_argument('[1, "a"]', list, "args") == [1, "a"]
    assert dispatch_rules.decode_json_argument((1, 2), list, "args") == [1, 2]
    assert dispatch_rules.decode_json_argument(None, dict, "kwargs") == {}
    for value, message in (("{not json", "args is not valid JSON"), ({"a": 1}, "args must be a JSON array"),
                           ([object()], "args must hold only JSON values"),
                           ([float("nan")], "args must hold only JSON values")):
        with pytest.raises(DispatchRefused, match=message):
            dispatch_rules.decode_json_argument(value, list, "args")


def test_priority_is_a_whole_number_from_0_to_9():
    assert dispatch_rules.check_priority(0) == 0
    for bad in (10, -1, True, 1.5, "3"):
        with pytest.raises(DispatchRefused, match="Priority must be a whole number"):
            dispatch_rules.check_priority(bad)


def test_countdown_and_eta():
    assert dispatch_rules.requested_eta(None, None, NOW) is False
    assert dispatch_rules.requested_eta(0, None, NOW) is False
    assert dispatch_rules.requested_eta(60, None, NOW) == NOW + timedelta(seconds=60)
    assert dispatch_rules.requested_eta(None, "2026-02-01 08:30:00", NOW) == datetime(2026, 2, 1, 8, 30)
    assert dispatch_rules.requested_eta(None, "2026-02-01", NOW) == datetime(2026, 2, 1)
    with pytest.raises(DispatchRefused, match="either countdown or eta"):
        dispatch_rules.requested_eta(5, "2030-01-01 00:00:00", NOW)
    for countdown in (-1, 10**400, float("nan"), float("inf"), True, limits.MAX_PLANNING_SECONDS + 1):
        with pytest.raises(DispatchRefused, match="countdown must be a number of seconds"):
            dispatch_rules.requested_eta(countdown, None, NOW)
    for eta in ("tomorrow-ish", "9999-99-99 00:00:00", 12):
        with pytest.raises(DispatchRefused, match="eta must be a UTC date and time"):
            dispatch_rules.requested_eta(None, eta, NOW)
    with pytest.raises(DispatchRefused, match="eta may be at most"):
        dispatch_rules.requested_eta(None, NOW + timedelta(seconds=limits.MAX_PLANNING_SECONDS + 60), NOW)


def test_idempotency_request():
    assert dispatch_rules.idempotency_request("none", {}) is None
    assert dispatch_rules.idempotency_request("none", {"idempotency_key": "k"}) == ("k", "global")
    assert dispatch_rules.idempotency_request("user", {}) == (None, "user")
    assert dispatch_rules.idempotency_request("user", {"idempotent": False}) is None
    assert dispatch_rules.idempotency_request("none", {"idempotent": True, "idempotency_scope": "company"}) == (
        None, "company")
    with pytest.raises(DispatchRefused, match="idempotency_key must be a non-empty string"):
        dispatch_rules.idempotency_request("none", {"idempotency_key": "  "})
    with pytest.raises(DispatchRefused, match="at most"):
        dispatch_rules.idempotency_request("none", {"idempotency_key": "k" * (limits.MAX_IDEMPOTENCY_KEY_LENGTH + 1)})


def _vals(report, **known):
    known = dict({"at": NOW, "now": NOW, "lease_end": NOW + timedelta(seconds=60),
                  "date_enqueued": NOW - timedelta(seconds=2), "attempt_log": "[]", "attempt": 1}, **known)
    return report_effects.vals_from_report(report, **known)


def test_what_each_report_writes():
    assert _vals({"state": jobstate.HEARTBEAT}) == {"lease_expires_at": NOW + timedelta(seconds=60)}
    assert _vals({"state": jobstate.PROGRESS, "progress": 40}) == {"progress": 40, "progress_message": False}
    started = _vals({"state": jobstate.STARTED, "worker": "w1"})
    assert (started["state"], started["worker_hostname"], started["wait_time"]) == (jobstate.STARTED, "w1", 2.0)
    retry = _vals({"state": jobstate.RETRY, "retry_in": 30, "deferred_reason": "circuit open"})
    assert retry["eta"] == NOW + timedelta(seconds=30)
    assert json.loads(retry["attempt_log"]) == [
        {"outcome": "deferred", "reason": "circuit open", "attempt": 1, "at": "2026-01-31 12:00:00"}]
    success = _vals({"state": jobstate.SUCCESS, "runtime": 1.5, "result": '{"ok": 1}'})
    assert (success["progress"], success["duration"], success["result_json"]) == (100, 1.5, '{"ok": 1}')


def test_failure_values_and_late_reports():
    vals = report_effects.failure_vals({"error_message": "boom", "runtime": 2}, "internal")
    assert vals == {"error_type": "internal", "error_message": "boom", "error_traceback": False,
                    "duration": 2.0, "lease_expires_at": False}
    assert report_effects.within_reaped_lease(NOW, NOW)
    assert not report_effects.within_reaped_lease(NOW + timedelta(seconds=1), NOW)
    assert not report_effects.within_reaped_lease(None, NOW)
    assert not report_effects.within_reaped_lease(NOW, False)
