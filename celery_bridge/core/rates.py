"""Rate limits as operators write them on a task type — ``100/m``, ``10/s``, ``500/h`` — read once, here,
for Odoo (the task type's constraint) and the workers (the global limiter, celery_bridge.broker.rate_limits).

A rate is a number of job starts in any window of one period, counted across every worker together.
A fractional number spaces the starts evenly instead: ``0.5/m`` is one start in any 120 s, ``1.5/m``
one in any 40 s. Celery reads the same text as each worker's own cap (a token bucket per worker).
"""
import re
from typing import NamedTuple

PERIODS = {"s": 1, "m": 60, "h": 3600}
_PATTERN = re.compile(r"(\d+(?:\.\d+)?)/([smh])")
# Every start in a window is remembered until it leaves the window (one sorted-set entry each): more
# than this many per window is no longer a limit one would set on background jobs.
MAX_STARTS_PER_WINDOW = 10000


class Rate(NamedTuple):
    starts: int  # at most this many jobs start ...
    window: float  # ... in any window of this many seconds
    text: str  # as written on the task type, e.g. "100/m"

    @property
    def interval(self):
        """The mean time between two starts at this rate, in seconds."""
        return self.window / self.starts


def parse_rate(text):
    """The rate ``text`` says (a :class:`Rate`), or None for no limit (empty); ValueError if it is not one."""
    text = (text or "").strip()
    if not text:
        return None
    match = _PATTERN.fullmatch(text)
    if not match:
        raise ValueError(f"{text!r} is not a rate: write it like 100/m, 10/s or 500/h")
    amount, period = float(match.group(1)), PERIODS[match.group(2)]
    if amount <= 0:
        raise ValueError(f"{text!r} lets nothing start: pause the queue instead")
    if amount > MAX_STARTS_PER_WINDOW:
        raise ValueError(f"{text!r} is more than {MAX_STARTS_PER_WINDOW} starts per window")
    if amount.is_integer():
        return Rate(int(amount), float(period), text)
    return Rate(1, period / amount, text)
