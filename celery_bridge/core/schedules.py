"""When schedules fire, and what goes wrong with that: plain Python shared by Odoo and the CLI.

Odoo's ir.cron adds the interval to the last planned call in its user's timezone and skips the
slots missed while it was down, so a schedule runs once after downtime. These functions replay that
arithmetic to list next runs, find schedules that crowd one queue, and check DST changes.

The spacing rule (the companion notes' "15-min collision avoidance"): schedules on one queue keep
``spacing`` minutes from each other, so that their jobs do not start in one burst. A *frequent*
schedule, whose interval is shorter than twice the spacing, cannot be kept that far from anything
(whatever fires on its queue falls within the spacing of one of its firings), so it is held to less:
frequent schedules must not start in the same minute as each other, and only when their periods allow
different minutes (every 5 and every 10 min can be offset, every minute and anything else cannot);
they are never compared with infrequent ones. Each conflict comes with advice that can be followed:
the smallest shift of one schedule's next call that clears it of every schedule on its queue, or,
when no shift can, moving one of them to another queue.
"""
from bisect import bisect_left, bisect_right
from datetime import datetime, timedelta
from itertools import accumulate
from math import gcd
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
# Minutes per unit. Months have no fixed length: 30 days only classes them (never frequent).
UNIT_MINUTES = {"minutes": 1, "hours": 60, "days": 1440, "weeks": 10080, "months": 43200}
FIXED_LENGTH = ("minutes", "hours", "days", "weeks")

DEFAULT_SPACING_MINUTES = 15
# Beyond 12 hours, twice the spacing would exceed a day and class daily schedules as frequent.
MAX_SPACING_MINUTES = 720
# Shifts are searched within half a period (every phase) and at most this far either way.
MAX_SHIFT_MINUTES = 720
EPOCH = datetime(1970, 1, 1)
MAX_RUNS = 366 * 24 * 60  # a year of a schedule firing every minute


class Schedule(NamedTuple):
    name: str
    queue: str
    nextcall: datetime  # naive UTC, as Odoo stores it
    interval_number: int
    interval_type: str
    key: object = None  # what identifies it (a record id); the name when None


def key_of(schedule):
    return schedule.name if schedule.key is None else schedule.key


def next_runs(schedule, start, until, cron_tz="UTC", limit=MAX_RUNS):
    """The UTC times ``schedule`` fires in [start, until) (the first ``limit``), as ir.cron computes
    them in ``cron_tz``."""
    if schedule.interval_number <= 0:
        return []
    if schedule.interval_type in FIXED_LENGTH:
        # ir.cron adds the interval to a datetime of the zone that keeps its UTC offset: a fixed
        # interval is a fixed number of seconds in every zone, so plain UTC arithmetic replays it.
        step = timedelta(minutes=period_minutes(schedule))
        call = schedule.nextcall
        if call < start:
            call += -((call - start) // step) * step  # the first slot at or after start
        runs = []
        while call < until and len(runs) < limit:
            runs.append(call)
            call += step
        return runs
    zone = pytz.timezone(cron_tz)
    step = INTERVALS[schedule.interval_type](schedule.interval_number)
    call = pytz.utc.localize(schedule.nextcall).astimezone(zone)
    start_utc, until_utc = pytz.utc.localize(start), pytz.utc.localize(until)
    runs = []
    guard = 0
    while call.astimezone(pytz.utc) < until_utc and guard < MAX_RUNS and len(runs) < limit:
        if call.astimezone(pytz.utc) >= start_utc:
            runs.append(call.astimezone(pytz.utc).replace(tzinfo=None))
        call = zone.normalize(call + step)
        guard += 1
    return runs


# ---------------------------------------------------------------------- the spacing rule

def period_minutes(schedule):
    """The interval in minutes (a month counted as 30 days)."""
    return schedule.interval_number * UNIT_MINUTES[schedule.interval_type]


def is_frequent(schedule, spacing=DEFAULT_SPACING_MINUTES):
    """Fires too often to be kept ``spacing`` minutes from any other schedule."""
    return period_minutes(schedule) < 2 * spacing


def wanted_gap(first, second, spacing=DEFAULT_SPACING_MINUTES):
    """Minutes every firing of ``first`` must keep from every firing of ``second`` on one queue, or
    None when the rule does not compare them: ``spacing`` between infrequent schedules; 1 (not the
    same minute) between frequent ones whose periods allow different minutes; nothing otherwise."""
    first_frequent, second_frequent = is_frequent(first, spacing), is_frequent(second, spacing)
    if not first_frequent and not second_frequent:
        return spacing
    if first_frequent and second_frequent and gcd(period_minutes(first), period_minutes(second)) >= 2:
        return 1
    return None


class Conflict(NamedTuple):
    queue: str
    names: tuple  # the two schedules, ordered by name
    keys: tuple  # their keys, in the same order
    first: datetime  # UTC minute of the first firing of the two that comes too close
    closest_minutes: int  # the smallest distance between their firings
    wanted_minutes: int  # what the rule wants
    occurrences: int  # firings of the first schedule too close to one of the second's
    move: str  # the schedule to shift; None: no shift of either clears it, move one to another queue
    move_key: object
    offset_minutes: int  # the shift of its next call: later when positive, earlier when negative
    next_call: datetime  # its next call once shifted (naive UTC)


def _minutes(runs):
    return [run.replace(second=0, microsecond=0) for run in runs]


def _closeness(runs, others, gap):
    """(first, closest, count): how ``runs`` come within ``gap`` minutes of ``others`` (sorted)."""
    first = closest = None
    count = 0
    if not others:
        return first, closest, count
    for run in runs:
        index = bisect_left(others, run)
        nearest = min((others[i] for i in (index - 1, index) if 0 <= i < len(others)),
                      key=lambda other: abs(other - run))
        distance = int(abs(nearest - run).total_seconds() // 60)
        if distance < gap:
            count += 1
            first = min(run, nearest) if first is None else first
        closest = distance if closest is None else min(closest, distance)
    return first, closest, count


def find_conflicts(schedules, start, until, cron_tz="UTC", spacing=DEFAULT_SPACING_MINUTES):
    """The pairs of schedules on one queue that fire closer than the rule wants in [start, until),
    each with advice that clears it (see the module's docstring)."""
    by_queue = {}
    for schedule in schedules:
        by_queue.setdefault(schedule.queue, []).append(schedule)
    runs, shifts = {}, {}

    def runs_of(schedule):
        if id(schedule) not in runs:
            runs[id(schedule)] = _minutes(next_runs(schedule, start, until, cron_tz))
        return runs[id(schedule)]

    def shift_of(schedule, queue_mates):
        if id(schedule) not in shifts:
            others = [other for other in queue_mates if other is not schedule]
            shifts[id(schedule)] = clearing_shift(schedule, others, start, until, cron_tz, spacing)
        return shifts[id(schedule)]

    conflicts = []
    for queue, mates in sorted(by_queue.items()):
        mates = sorted(mates, key=lambda schedule: (schedule.name, str(key_of(schedule))))
        for index, first in enumerate(mates):
            for second in mates[index + 1:]:
                gap = wanted_gap(first, second, spacing)
                if gap is None:
                    continue
                when, closest, count = _closeness(runs_of(first), runs_of(second), gap)
                if not count:
                    continue
                # The smaller shift, later rather than earlier; on a tie the schedule planned later moves.
                choices = [(abs(shift), shift < 0, -(schedule.nextcall - EPOCH).total_seconds(), rank, schedule, shift)
                           for rank, schedule, shift in ((1, first, shift_of(first, mates)),
                                                         (0, second, shift_of(second, mates))) if shift is not None]
                mover, shift = min(choices, key=lambda choice: choice[:4])[4:] if choices else (None, None)
                conflicts.append(Conflict(
                    queue, (first.name, second.name), (key_of(first), key_of(second)), when, closest, gap, count,
                    mover.name if mover else None, key_of(mover) if mover else None, shift,
                    mover.nextcall + timedelta(minutes=shift) if mover else None))
    return sorted(conflicts, key=lambda conflict: (conflict.queue, conflict.first, conflict.names))


def clearing_shift(schedule, others, start, until, cron_tz="UTC", spacing=DEFAULT_SPACING_MINUTES):
    """The smallest shift in minutes of ``schedule``'s next call (later before earlier) after which
    it keeps what the rule wants from every schedule of ``others`` (its queue mates) in [start,
    until), or None when no shift within half its period (at most MAX_SHIFT_MINUTES) does."""
    compared = [(other, gap) for other in others if (gap := wanted_gap(schedule, other, spacing)) is not None]
    if not compared:
        return 0
    reach = min(period_minutes(schedule) // 2, MAX_SHIFT_MINUTES)
    shifts = [shift for size in range(1, reach + 1) for shift in (size, -size)]
    if schedule.interval_type not in FIXED_LENGTH:
        return _replayed_shift(schedule, compared, shifts, start, until, cron_tz)
    # A fixed interval moves its runs as a block: each run of another schedule forbids the shifts
    # that bring one of ours within its gap (a difference array over -reach..reach).
    runs = _minutes(next_runs(schedule, start - timedelta(minutes=reach), until, cron_tz))
    forbidden = [0] * (2 * reach + 2)
    for other, gap in compared:
        margin = timedelta(minutes=reach + gap)
        other_runs = _minutes(next_runs(other, start - 2 * margin, until + margin, cron_tz))
        for run in runs:
            for other_run in other_runs[bisect_left(other_runs, run - margin):bisect_right(other_runs, run + margin)]:
                offset = int((other_run - run).total_seconds() // 60)
                low, high = max(offset - gap + 1, -reach), min(offset + gap - 1, reach)
                if low <= high:
                    forbidden[low + reach] += 1
                    forbidden[high + reach + 1] -= 1
    blocked = list(accumulate(forbidden))
    return next((shift for shift in shifts if not blocked[shift + reach]), None)


def _replayed_shift(schedule, compared, shifts, start, until, cron_tz):
    """clearing_shift for months, whose runs are replayed for each shift (a month's end moves them)."""
    margin = timedelta(minutes=MAX_SHIFT_MINUTES + MAX_SPACING_MINUTES)
    other_runs = [(_minutes(next_runs(other, start - margin, until + margin, cron_tz)), gap) for other, gap in compared]
    for shift in shifts:
        moved = schedule._replace(nextcall=schedule.nextcall + timedelta(minutes=shift))
        runs = _minutes(next_runs(moved, start, until, cron_tz))
        if all(not _closeness(runs, others, gap)[2] for others, gap in other_runs):
            return shift
    return None


# ---------------------------------------------------------------------- DST


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
