from datetime import datetime

from celery_bridge.core import schedules, windows
from celery_bridge.core.schedules import Schedule

DAY = Schedule("daily", "celery", datetime(2026, 11, 21, 18, 0), 1, "days")  # 00:00 in Asia/Dhaka


def test_next_runs_follow_the_interval():
    runs = schedules.next_runs(DAY, datetime(2026, 11, 21), datetime(2026, 11, 24))
    assert runs == [datetime(2026, 11, 21, 18), datetime(2026, 11, 22, 18), datetime(2026, 11, 23, 18)]
    monthly = Schedule("invoices", "celery:report", datetime(2026, 11, 30, 18), 1, "months")
    assert schedules.next_runs(monthly, datetime(2026, 11, 1), datetime(2027, 2, 1))[1] == datetime(2026, 12, 30, 18)


def test_collisions_on_one_queue_are_found_with_an_offset():
    every_5 = Schedule("health", "celery:iot", datetime(2026, 11, 21, 0, 0), 5, "minutes")
    hourly = Schedule("sync", "celery:iot", datetime(2026, 11, 21, 0, 0), 1, "hours")
    other_queue = Schedule("report", "celery:report", datetime(2026, 11, 21, 0, 0), 1, "hours")
    found = schedules.find_collisions([every_5, hourly, other_queue], datetime(2026, 11, 21), datetime(2026, 11, 21, 2))
    assert [c.minute for c in found] == [datetime(2026, 11, 21, 0, 0), datetime(2026, 11, 21, 1, 0)]
    assert all(c.names == ("health", "sync") and c.queue == "celery:iot" for c in found)
    assert found[0].suggested_offset_minutes == 1


def test_no_collision_when_minutes_differ():
    a = Schedule("a", "celery", datetime(2026, 11, 21, 2, 0), 1, "days")
    b = Schedule("b", "celery", datetime(2026, 11, 21, 2, 7), 1, "days")
    assert schedules.find_collisions([a, b], datetime(2026, 11, 21), datetime(2026, 12, 21)) == []


def test_dhaka_has_no_dst_surprises():
    assert schedules.dst_findings(DAY, datetime(2026, 1, 1), datetime(2027, 1, 1), "Asia/Dhaka") == []


def test_dst_change_moves_a_utc_schedule_and_flags_skipped_hours():
    # 01:30 UTC = 02:30 in Berlin in winter: on 29 March 2026 02:30 does not exist there.
    berlin = Schedule("backup", "celery:low", datetime(2026, 3, 20, 1, 30), 1, "days")
    found = schedules.dst_findings(berlin, datetime(2026, 3, 20), datetime(2026, 4, 5), "Europe/Berlin")
    problems = [f.problem for f in found]
    assert any("does not exist on 2026-03-29" in p for p in problems)
    assert any("moves from 02:30 to 03:30" in p for p in problems)


def test_window_across_midnight():
    nightly = dict(weekdays={0, 1, 2, 3, 4, 5, 6}, start_hour=22, end_hour=5)
    assert windows.in_window(datetime(2026, 11, 21, 23, 0), **nightly)
    assert windows.in_window(datetime(2026, 11, 21, 4, 59), **nightly)
    assert not windows.in_window(datetime(2026, 11, 21, 12, 0), **nightly)


def test_next_allowed_is_the_next_window_opening_in_the_company_timezone():
    # 12:00 UTC = 18:00 in Dhaka, outside 22:00-05:00: next opening is 22:00 Dhaka = 16:00 UTC.
    assert windows.next_allowed(datetime(2026, 11, 21, 12, 0), "Asia/Dhaka", {0, 1, 2, 3, 4, 5, 6}, 22, 5) \
        == datetime(2026, 11, 21, 16, 0)
    assert windows.next_allowed(datetime(2026, 11, 21, 17, 0), "Asia/Dhaka", {0, 1, 2, 3, 4, 5, 6}, 22, 5) \
        == datetime(2026, 11, 21, 17, 0), "inside the window: now"


def test_weekday_windows_skip_to_the_next_allowed_day():
    # Saturday 21 Nov 2026, weekdays only 08:00-17:00 UTC: Monday 08:00.
    assert windows.next_allowed(datetime(2026, 11, 21, 9, 0), "UTC", {0, 1, 2, 3, 4}, 8, 17) == datetime(2026, 11, 23, 8)
