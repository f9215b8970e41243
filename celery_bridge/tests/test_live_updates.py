"""The live-update throttle (celery_bridge.core.live_updates): at most one notification per target
and interval, and nothing that changes in between is lost."""
import threading

import pytest

from celery_bridge.core import live_updates
from celery_bridge.core.live_updates import NotificationThrottle


class Clock:
    """Seconds that pass only when a test says so."""

    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def throttle(clock):
    return NotificationThrottle(clock=clock)


def test_the_first_notification_goes_out_at_once_with_sorted_ids(throttle):
    assert throttle.offer("company-1", {"job_ids": {7, 3}, "queue_ids": {2}}) == {"job_ids": [3, 7], "queue_ids": [2]}


def test_within_the_interval_changes_are_held_then_told_with_the_next_one(throttle, clock):
    assert throttle.offer("company-1", {"job_ids": {1}}, interval=1.0) == {"job_ids": [1]}
    clock.now += 0.4
    assert throttle.offer("company-1", {"job_ids": {2}}, interval=1.0) is None
    clock.now += 0.4
    assert throttle.offer("company-1", {"job_ids": {2, 3}, "worker_ids": {9}}, interval=1.0) is None
    clock.now += 0.2
    assert throttle.offer("company-1", {"queue_ids": {5}}, interval=1.0) == {
        "job_ids": [2, 3], "queue_ids": [5], "worker_ids": [9]}
    clock.now += 0.1
    assert throttle.offer("company-1", {"job_ids": {4}}, interval=1.0) is None, "the interval starts again"


def test_each_target_has_its_own_interval(throttle):
    assert throttle.offer("company-1", {"job_ids": {1}}) == {"job_ids": [1]}
    assert throttle.offer("company-2", {"job_ids": {2}}) == {"job_ids": [2]}
    assert throttle.offer("company-1", {"job_ids": {3}}) is None


def test_no_interval_sends_every_time(throttle):
    for job_id in range(3):
        assert throttle.offer("company-1", {"job_ids": {job_id}}, interval=0) == {"job_ids": [job_id]}


def test_too_many_ids_are_cut_and_said_so(throttle, clock):
    many = set(range(live_updates.MAX_IDS + 5))
    told = throttle.offer("company-1", {"job_ids": many, "worker_ids": {1}})
    assert told["truncated"] is True and told["job_ids"] == sorted(many)[:live_updates.MAX_IDS]
    assert told["worker_ids"] == [1]
    clock.now += 10
    assert throttle.offer("company-1", {"job_ids": {1}}) == {"job_ids": [1]}, "the next one is whole again"


def test_unknown_kinds_are_refused(throttle):
    with pytest.raises(ValueError):
        throttle.offer("company-1", {"partner_ids": {1}})


def test_reset_forgets_what_was_sent_and_held(throttle):
    throttle.offer("company-1", {"job_ids": {1}})
    assert throttle.offer("company-1", {"job_ids": {2}}) is None
    throttle.reset()
    assert throttle.offer("company-1", {"job_ids": {3}}) == {"job_ids": [3]}


def test_threads_offering_at_once_lose_nothing(clock):
    throttle = NotificationThrottle(clock=clock)
    told = []
    lock = threading.Lock()

    def offer(job_ids):
        for job_id in job_ids:
            payload = throttle.offer("company-1", {"job_ids": {job_id}})
            if payload:
                with lock:
                    told.append(payload)

    threads = [threading.Thread(target=offer, args=(range(start, 1000, 4),)) for start in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    clock.now += 5
    told.append(throttle.offer("company-1", {"worker_ids": {1}}))
    assert sorted(job_id for payload in told for job_id in payload.get("job_ids", [])) == list(range(1000))


@pytest.mark.parametrize(("text", "seconds"), [
    ("2.5", 2.5), ("0", 0.0), (None, 1.0), (False, 1.0), ("", 1.0), ("soon", 1.0), ("-1", 1.0), ("nan", 1.0),
    ("inf", 1.0), ("61", 1.0),
])
def test_interval_setting(text, seconds):
    assert live_updates.interval_setting(text) == seconds
