"""When schedules fire, and what goes wrong with that: plain Python shared by Odoo and the CLI.

Odoo's ir.cron adds the interval to the last planned call in its user's timezone and skips the
slots missed while it was down, so a schedule runs once after downtime. These functions replay that
arithmetic to list next runs, find schedules colliding on a queue, and check DST changes.
"""
from datetime import datetime, timedelta
from typing import NamedTuple

import pytz
from dateutil.relativedelta import relativedelta

INTERVALS = {
    "minutes": lambda n: relativedelta(minutes=n),
    "hours": lambda n: relativedelta(hours=n),
    "days": lambda n: relativedelta(days=n),
    "weeks": lambda n: relativedelta(days=7 * n),
    "months": lambda n: relativedelta(months=n),
}


class Schedule(NamedTuple):
    name: str
    queue: str
    nextcall: datetime  # naive UTC, as Odoo stores it
    interval_number: int
    interval_type: str


def next_runs(schedule, start, until, cron_tz="UTC"):
    """The UTC times ``schedule`` fires in [start, until), computed as ir.cron does in ``cron_tz``."""
    zone = pytz.timezone(cron_tz)
    step = INTERVALS[schedule.interval_type](schedule.interval_number)
    call = pytz.utc.localize(schedule.nextcall).astimezone(zone)
    start_utc, until_utc = pytz.utc.localize(start), pytz.utc.localize(until)
    runs = []
    guard = 0
    while call.astimezone(pytz.utc) < until_utc and guard < 100000:
        if call.astimezone(pytz.utc) >= start_utc:
            runs.append(call.astimezone(pytz.utc).replace(tzinfo=None))
        call = zone.normalize(call + step)
        guard += 1
    return runs


class Collision(NamedTuple):
    queue: str
    minute: datetime  # UTC, seconds dropped
    names: tuple
    suggested_offset_minutes: int  # move the later schedule by this much to clear the minute


def find_collisions(schedules, start, until, cron_tz="UTC"):
    """Schedules that fire on the same queue in the same minute, with an offset that clears it."""
    by_slot = {}
    for schedule in schedules:
        for run in next_runs(schedule, start, until, cron_tz):
            by_slot.setdefault((schedule.queue, run.replace(second=0, microsecond=0)), []).append(schedule.name)
    busy = {}
    for (queue, minute), names in by_slot.items():
        busy.setdefault(queue, set()).add(minute)
    collisions = []
    for (queue, minute), names in sorted(by_slot.items()):
        if len(set(names)) > 1:
            offset = 1
            while minute + timedelta(minutes=offset) in busy[queue] and offset < 60:
                offset += 1
            collisions.append(Collision(queue, minute, tuple(sorted(set(names))), offset))
    return collisions


class DstFinding(NamedTuple):
    name: str
    when: datetime  # local time of the firing concerned
    problem: str


def dst_findings(schedule, start, until, local_tz, cron_tz="UTC"):
    """Firings around DST changes of ``local_tz`` that an admin would not expect.

    For schedules of a day or more: a local firing time that moves (the schedule keeps UTC), or that
    falls into a skipped hour (it would never fire at that wall time) or a repeated hour (twice).
    """
    if schedule.interval_type not in ("days", "weeks", "months"):
        return []
    zone = pytz.timezone(local_tz)
    findings = []
    previous = intended = None
    for run in next_runs(schedule, start, until, cron_tz):
        wall = pytz.utc.localize(run).astimezone(zone).replace(tzinfo=None)
        intended = intended or wall.time()
        if previous is not None and wall.time() != previous.time():
            findings.append(DstFinding(schedule.name, wall, "local firing time moves from %s to %s after a DST "
                                       "change" % (previous.strftime("%H:%M"), wall.strftime("%H:%M"))))
        try:
            zone.localize(datetime.combine(wall.date(), intended), is_dst=None)
        except pytz.NonExistentTimeError:
            findings.append(DstFinding(schedule.name, wall, "%s does not exist on %s (clocks skip it): at that "
                                       "wall time it would never fire" % (intended.strftime("%H:%M"), wall.date())))
        except pytz.AmbiguousTimeError:
            findings.append(DstFinding(schedule.name, wall, "%s happens twice on %s: at that wall time it would "
                                       "fire twice" % (intended.strftime("%H:%M"), wall.date())))
        previous = wall
    return findings
