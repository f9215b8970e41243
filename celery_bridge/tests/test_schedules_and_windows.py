from datetime import datetime, timedelta

from celery_bridge.core import schedules, windows
from celery_bridge.core.schedules import Schedule

DAY = Schedule("daily", "celery", datetime(2026, 11, 21, 18, 0), 1, "days")  # 00:00 in Asia/Dhaka


def test_next_runs_follow_the_interval():
    runs = schedules.next_runs(DAY, datetime(2026, 11, 21), datetime(2026, 11, 24))
    assert runs == [datetime(2026, 11, 21, 18), datetime(2026, 11, 22, 18), datetime(2026, 11, 23, 18)]
    monthly = Schedule("invoices", "celery:report", datetime(2026, 11, 30, 18), 1, "months")
    assert schedules.next_runs(monthly, datetime(2026, 11, 1), datetime(2027, 2, 1))[1] == datetime(2026, 12, 30, 18)


WEEK = (datetime(2026, 11, 21), datetime(2026, 11, 28))
NOW = datetime(2026, 11, 21, 2, 13)


def every(name, queue, minutes, at=NOW):
    return Schedule(name, queue, at, minutes, "minutes")


def daily(name, queue, hour, minute=0):
    return Schedule(name, queue, datetime(2026, 11, 21, hour, minute), 1, "days")


def test_next_runs_skip_ahead_over_a_long_past_next_call():
    # A schedule whose cron has not run for a year still has its slots this week (on its old grid).
    stale = every("sync", "celery:iot", 7, at=datetime(2025, 11, 21, 0, 0))
    runs = schedules.next_runs(stale, *WEEK)
    assert runs[0] >= WEEK[0] and runs[0] - timedelta(minutes=7) < WEEK[0]
    assert (runs[0] - stale.nextcall) % timedelta(minutes=7) == timedelta(0)
    assert len(runs) == 1440 and schedules.next_runs(stale, *WEEK, limit=3) == runs[:3]


def test_fixed_intervals_replay_as_ir_cron_does_across_dst():
    # ir.cron adds the interval keeping the UTC offset: a daily run keeps its UTC time over a DST change.
    berlin = Schedule("backup", "celery:low", datetime(2026, 3, 20, 1, 30), 1, "days")
    runs = schedules.next_runs(berlin, datetime(2026, 3, 20), datetime(2026, 4, 5), "Europe/Berlin")
    assert {run.time() for run in runs} == {datetime(2026, 1, 1, 1, 30).time()} and len(runs) == 16


def test_who_the_spacing_rule_compares():
    minute, five, ten, twenty = (every(str(m), "q", m) for m in (1, 5, 10, 20))
    half_hour, hourly, backup = every("30", "q", 30), every("60", "q", 60), daily("backup", "q", 3)
    assert [schedules.is_frequent(s) for s in (minute, five, twenty, half_hour, backup)] == [
        True, True, True, False, False], "frequent: every less than twice the spacing"
    assert schedules.wanted_gap(minute, five) is None, "every minute cannot be offset from anything"
    assert schedules.wanted_gap(five, ten) == 1, "every 5 and every 10 min can start in different minutes"
    assert schedules.wanted_gap(ten, twenty) == 1
    assert schedules.wanted_gap(five, backup) is None, "a frequent schedule is not held to the spacing"
    assert schedules.wanted_gap(hourly, backup) == schedules.wanted_gap(half_hour, hourly) == 15
    assert schedules.wanted_gap(half_hour, hourly, spacing=30) is None, "the spacing is a parameter"


def test_the_seeded_iot_pair_every_minute_and_every_5_min_is_not_a_conflict():
    seeded = [every("Device status sync", "celery:iot", 1), every("Critical-device health check", "celery:iot", 5)]
    assert schedules.find_conflicts(seeded, *WEEK) == []


def test_daily_schedules_keep_15_minutes_and_the_advice_clears_it():
    cleanup, sync = daily("cleanup", "celery:low", 2), daily("sync", "celery:low", 2, 7)
    found = schedules.find_conflicts([cleanup, sync, daily("backup", "celery:low", 3)], *WEEK)
    assert [(c.names, c.closest_minutes, c.wanted_minutes, c.occurrences) for c in found] == [
        (("cleanup", "sync"), 7, 15, 7)]
    conflict = found[0]
    assert (conflict.move, conflict.offset_minutes, conflict.next_call) == ("sync", 8, datetime(2026, 11, 21, 2, 15))
    moved = sync._replace(nextcall=conflict.next_call)
    assert schedules.find_conflicts([cleanup, moved, daily("backup", "celery:low", 3)], *WEEK) == []


def test_no_conflict_across_queues_or_when_far_enough():
    assert schedules.find_conflicts([daily("a", "celery", 2), daily("b", "celery", 2, 15),
                                     daily("c", "celery:low", 2)], *WEEK) == []


def test_frequent_schedules_are_offset_by_a_minute_when_their_periods_allow():
    five, ten = every("health", "celery:iot", 5), every("poll", "celery:iot", 10)
    found = schedules.find_conflicts([five, ten, every("sync", "celery:iot", 1)], *WEEK)
    assert len(found) == 1 and found[0].names == ("health", "poll") and found[0].wanted_minutes == 1
    shifted = {"health": five, "poll": ten}[found[0].move]
    shifted = shifted._replace(nextcall=shifted.nextcall + timedelta(minutes=found[0].offset_minutes))
    assert abs(found[0].offset_minutes) == 1
    assert schedules.find_conflicts([shifted, five if shifted.name == "poll" else ten], *WEEK) == []


def test_when_no_shift_can_clear_it_the_advice_is_another_queue():
    # Every 45 min and hourly: their firings come within 15 min of each other whatever the shift.
    found = schedules.find_conflicts([every("a", "celery", 45), every("b", "celery", 60)], *WEEK)
    assert len(found) == 1 and (found[0].move, found[0].offset_minutes) == (None, None)
    # Every 2 min three times: two minutes to share among three.
    crowded = [every("a", "q", 2), every("b", "q", 2, at=NOW + timedelta(minutes=1)), every("c", "q", 2)]
    found = schedules.find_conflicts(crowded, *WEEK)
    assert [(c.names, c.move) for c in found] == [(("a", "c"), None)]


def test_a_shift_clears_every_queue_mate_not_just_the_pair():
    # 02:00, 02:05 and 02:25: 02:05 has no room between its neighbours, 02:00 moves to 01:50.
    mates = [daily("a", "celery", 2), daily("b", "celery", 2, 5), daily("c", "celery", 2, 25)]
    (conflict,) = schedules.find_conflicts(mates, *WEEK)
    assert (conflict.names, conflict.move, conflict.offset_minutes) == (("a", "b"), "a", -10)
    moved = {s.name: s for s in mates}
    moved[conflict.move] = moved[conflict.move]._replace(nextcall=conflict.next_call)
    assert schedules.find_conflicts(list(moved.values()), *WEEK) == []


def test_a_monthly_schedule_is_spaced_from_a_daily_one():
    invoices = Schedule("invoices", "celery:report", datetime(2026, 11, 30, 18, 0), 1, "months")
    reports = Schedule("reports", "celery:report", datetime(2026, 11, 21, 18, 10), 1, "days")
    (conflict,) = schedules.find_conflicts([invoices, reports], datetime(2026, 11, 21), datetime(2027, 2, 1))
    assert (conflict.first, conflict.closest_minutes, conflict.occurrences) == (datetime(2026, 11, 30, 18, 0), 10, 3)
    moved = {"invoices": invoices, "reports": reports}
    moved[conflict.move] = moved[conflict.move]._replace(nextcall=conflict.next_call)
    assert schedules.find_conflicts(list(moved.values()), datetime(2026, 11, 21), datetime(2027, 2, 1)) == []


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
