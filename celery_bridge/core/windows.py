"""Time windows of task types: when heavy work may start, in the company's timezone."""
from datetime import datetime, time, timedelta

import pytz

WEEKDAYS = [("0", "Monday"), ("1", "Tuesday"), ("2", "Wednesday"), ("3", "Thursday"), ("4", "Friday"),
            ("5", "Saturday"), ("6", "Sunday")]


def _hours_to_time(hours):
    hours = hours % 24
    return time(int(hours), int(round((hours - int(hours)) * 60)) % 60)


def in_window(local, weekdays, start_hour, end_hour):
    """Is local (naive) time inside the window? A window may cross midnight (22:00-05:00); it then
    belongs to the weekday it starts on."""
    start, end = _hours_to_time(start_hour), _hours_to_time(end_hour)
    clock = local.time()
    if start <= end:
        return local.weekday() in weekdays and start <= clock < end
    if clock >= start:
        return local.weekday() in weekdays
    return clock < end and (local.weekday() - 1) % 7 in weekdays


def next_allowed(now_utc, tz_name, weekdays, start_hour, end_hour):
    """The first UTC time at or after ``now_utc`` (naive) inside the window."""
    weekdays = set(weekdays)
    if not weekdays:
        raise ValueError("a time window needs at least one weekday")
    zone = pytz.timezone(tz_name or "UTC")
    local = pytz.utc.localize(now_utc).astimezone(zone).replace(tzinfo=None)
    if in_window(local, weekdays, start_hour, end_hour):
        return now_utc
    start = _hours_to_time(start_hour)
    for days in range(0, 8):
        day = (local + timedelta(days=days)).date()
        candidate = datetime.combine(day, start)
        if candidate >= local and day.weekday() in weekdays:
            return zone.localize(candidate, is_dst=False).astimezone(pytz.utc).replace(tzinfo=None)
    raise ValueError("no window opening within a week")
