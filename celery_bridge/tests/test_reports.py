from datetime import datetime

import pytest

from celery_bridge.core.worker_reports import report_problem, report_time

GOOD = {"uuid": "u-1", "attempt": 1, "state": "success", "result": '{"ok": true}', "at": "2026-11-21 08:00:01.5"}


def test_a_good_report_passes_and_its_time_is_whole_seconds():
    assert report_problem(GOOD) is None
    assert report_time(GOOD) == datetime(2026, 11, 21, 8, 0, 1)
    assert report_time({"uuid": "u"}) is None


@pytest.mark.parametrize("change, problem", [
    ({"uuid": ""}, "uuid missing"),
    ({"attempt": True}, "attempt must be an integer"),
    ({"state": "enqueued"}, "state must be one of"),
    ({"result": 5}, "result must be JSON text"),
    ({"result": "{nope"}, "result is not valid JSON"),
    ({"progress": 101}, "progress must be an integer from 0 to 100"),
    ({"error_type": "gremlins"}, "unknown error_type 'gremlins'"),
    ({"retry_in": -1}, "retry_in must be a number of seconds"),
    ({"at": "yesterday"}, "at must be a UTC time"),
    ({"at": 12}, "at must be a UTC time"),
])
def test_malformed_reports_say_what_is_wrong(change, problem):
    assert problem in report_problem(dict(GOOD, **change))


def test_not_a_dict():
    assert report_problem(["u-1"]) == "a report must be a dict"
