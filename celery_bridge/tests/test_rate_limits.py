"""The global rate limit per task type (celery_bridge.broker.rate_limits) against a real Redis, with
several clients in several processes taking slots at once; and the one parser of "100/m" (core.rates)."""
import multiprocessing
import os

import pytest
import redis

from celery_bridge.broker.rate_limits import SPREAD, GlobalRateLimits, start_token
from celery_bridge.core import rates

TASK = "smart_dairy.email.send_email"


@pytest.fixture
def limiter(redis_db):
    return limiter_on(redis_db, redis_db.test_prefix)


def limiter_on(client, prefix):
    return GlobalRateLimits(client, limits_key=prefix + "limits", changed_key=prefix + "changed",
                            log_prefix=prefix + "log:")


# ------------------------------------------------------------------------- the parser (core.rates)

@pytest.mark.parametrize("text, starts, window", [
    ("100/m", 100, 60.0), ("10/s", 10, 1.0), ("500/h", 500, 3600.0), (" 1/m ", 1, 60.0),
    ("0.5/m", 1, 120.0), ("1.5/m", 1, 40.0), ("2.0/s", 2, 1.0),
])
def test_a_rate_is_starts_in_any_window(text, starts, window):
    rate = rates.parse_rate(text)
    assert (rate.starts, rate.window, rate.text) == (starts, window, text.strip())


@pytest.mark.parametrize("text", ["fast", "100", "100/d", "100/min", "-1/m", "0/m", "0.0/s", "1e3/m", "10001/s"])
def test_what_is_not_a_rate_is_refused(text):
    with pytest.raises(ValueError):
        rates.parse_rate(text)


@pytest.mark.parametrize("text", [None, "", "  "])
def test_no_text_is_no_limit(text):
    assert rates.parse_rate(text) is None


# ------------------------------------------------------------------------- one client

def test_a_task_without_a_limit_always_gets_a_slot(limiter):
    assert all(limiter.try_take(TASK, start_token("job", 1)).allowed for _ in range(50))
    limiter.set(TASK, "2/m")
    limiter.set(TASK, "")
    assert limiter.limits() == {}
    assert all(limiter.try_take(TASK, start_token("job", 1)).allowed for _ in range(5))


def test_the_limit_refuses_the_next_start_with_the_time_its_slot_frees(limiter):
    limiter.set(TASK, "3/m")
    taken = [limiter.try_take(TASK, start_token(f"job{i}", 1)) for i in range(4)]
    assert [admission.allowed for admission in taken] == [True, True, True, False]
    assert taken[0].rate == "3/m"
    refused = taken[3]
    assert refused.rate == "3/m" and 59.0 < refused.retry_in <= 60.0, refused
    assert limiter.in_window(TASK) == 3


def test_a_lowered_limit_holds_at_once_and_a_raised_one_frees_slots(limiter):
    limiter.set(TASK, "4/m")
    assert all(limiter.try_take(TASK, start_token("job", 1)).allowed for _ in range(4))
    limiter.set(TASK, "2/m")  # four started already: none may until two of them leave the window
    assert not limiter.try_take(TASK, start_token("job", 1)).allowed
    limiter.set(TASK, "6/m")  # the same window, not a new one: two more, then no more
    assert [limiter.try_take(TASK, start_token("job", 1)).allowed for _ in range(3)] == [True, True, False]


def test_a_slot_frees_as_the_window_moves_and_a_short_wait_takes_it(limiter):
    limiter.set(TASK, "2/s")
    assert limiter.take(TASK, start_token("a", 1)).allowed and limiter.take(TASK, start_token("b", 1)).allowed
    assert not limiter.try_take(TASK, start_token("c", 1)).allowed
    # The next slot frees within the second: take() waits for it instead of deferring the job.
    assert limiter.take(TASK, start_token("c", 1), max_wait=2.0).allowed
    assert limiter.in_window(TASK) <= 2


def test_the_window_moves_the_oldest_start_leaves_while_later_ones_still_count(limiter):
    import time

    limiter.set(TASK, "3/s")
    assert limiter.take(TASK, start_token("a", 1)).allowed
    time.sleep(0.5)  # not a wait for something: two starts half a window after the first
    assert limiter.take(TASK, start_token("b", 1)).allowed and limiter.take(TASK, start_token("c", 1)).allowed
    # d gets the slot a frees, a window after a, while b and c are still in the window: a moving window,
    # not one that empties all at once.
    assert limiter.take(TASK, start_token("d", 1), max_wait=2.0).allowed
    assert limiter.in_window(TASK) == 3


def test_a_longer_wait_is_refused_at_once_and_spread(limiter):
    limiter.set(TASK, "1/m")
    assert limiter.take(TASK, start_token("a", 1)).allowed
    slept = []
    refused = [limiter.take(TASK, start_token(f"b{i}", 1), max_wait=2.0, sleep=slept.append) for i in range(20)]
    assert slept == [] and not any(admission.allowed for admission in refused)
    assert all(59.0 < admission.retry_in <= 60.0 * (1 + SPREAD) for admission in refused)
    assert len({round(admission.retry_in, 3) for admission in refused}) > 10  # not all back at the same instant


def test_a_limit_that_does_not_read_is_refused_where_odoo_sets_it(limiter):
    with pytest.raises(ValueError):
        limiter.set(TASK, "lots/m")
    assert limiter.limits() == {}


# ------------------------------------------------------------------------- heartbeats and live changes

def test_a_heartbeat_sets_every_limit_and_drops_those_odoo_no_longer_has(limiter):
    limiter.set("old.task", "5/m")
    assert limiter.replace_all({TASK: "100/m", "batch.task": "1/m", "bad.task": "fast"}, limiter.clock())
    assert limiter.limits() == {TASK: "100/m", "batch.task": "1/m"}
    assert limiter.replace_all({}, limiter.clock())
    assert limiter.limits() == {}


def test_a_heartbeat_answer_older_than_a_live_change_does_not_undo_it(limiter):
    limiter.set(TASK, "100/m")
    asked_at = limiter.clock()  # the worker asks Odoo ...
    limiter.set(TASK, "")  # ... an operator removes the limit, live ...
    assert not limiter.replace_all({TASK: "100/m"}, asked_at)  # ... and the stale answer comes back
    assert limiter.limits() == {}
    assert limiter.replace_all({TASK: "10/m"}, limiter.clock())  # the next beat's answer applies
    assert limiter.limits() == {TASK: "10/m"}


# ------------------------------------------------------------------------- many clients, many processes

def _hammer(url, prefix, tries, barrier, results):
    """One worker process: its own Redis connection, taking slots as fast as it can."""
    client = redis.Redis.from_url(url)
    limiter = limiter_on(client, prefix)
    barrier.wait(timeout=30)
    outcomes = []
    for attempt in range(tries):
        admission = limiter.try_take(TASK, start_token(f"p{os.getpid()}", attempt))
        outcomes.append((admission.allowed, admission.retry_in))
    results.put(outcomes)


def _run_processes(redis_db, count, tries):
    url = redis_db.connection_pool.connection_kwargs
    url = f"redis://{url.get('host', '127.0.0.1')}:{url.get('port', 6379)}/{url.get('db', 0)}"
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(count), context.Queue()
    processes = [context.Process(target=_hammer, args=(url, redis_db.test_prefix, tries, barrier, results))
                 for _ in range(count)]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(timeout=30)
    assert all(process.exitcode == 0 for process in processes)
    return outcomes


def test_four_processes_together_get_exactly_the_limit(redis_db, limiter):
    limiter.set(TASK, "25/m")
    outcomes = _run_processes(redis_db, count=4, tries=20)
    allowed = [retry_in for per_process in outcomes for ok, retry_in in per_process if ok]
    refused = [retry_in for per_process in outcomes for ok, retry_in in per_process if not ok]
    assert len(allowed) == 25 and len(refused) == 80 - 25
    assert sum(1 for per_process in outcomes if any(ok for ok, _ in per_process)) >= 2  # shared, not one's own
    assert all(0 < retry_in <= 60.0 for retry_in in refused)
    assert limiter.in_window(TASK) == 25


def _take_for(url, prefix, seconds, barrier, results):
    """One worker process taking slots for ``seconds``: the Redis time of each start it got."""
    import time

    client = redis.Redis.from_url(url)
    limiter = limiter_on(client, prefix)
    barrier.wait(timeout=30)
    stamps, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        token = start_token(f"p{os.getpid()}", len(stamps))
        if limiter.try_take(TASK, token).allowed:
            stamps.append(client.zscore(limiter.log_prefix + TASK, token))
    results.put(stamps)


def test_no_window_anywhere_holds_more_than_the_limit_while_three_processes_press(redis_db, limiter):
    limiter.set(TASK, "5/s")
    url = redis_db.connection_pool.connection_kwargs
    url = f"redis://{url.get('host', '127.0.0.1')}:{url.get('port', 6379)}/{url.get('db', 0)}"
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(3), context.Queue()
    processes = [context.Process(target=_take_for, args=(url, redis_db.test_prefix, 2.5, barrier, results))
                 for _ in range(3)]
    for process in processes:
        process.start()
    stamps = sorted(stamp for _ in processes for stamp in results.get(timeout=60))
    for process in processes:
        process.join(timeout=30)
    # The window moves: more than one window's worth over 2.5 s, and never 6 within any 1 s.
    assert len(stamps) >= 10
    window = 1_000_000  # µs, as Redis stamps them
    assert max(sum(1 for later in stamps[i:] if later - first < window) for i, first in enumerate(stamps)) <= 5
