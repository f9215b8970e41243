"""The job state machine, written once and imported by both the Odoo addon and the workers.

A job moves  pending -> enqueued -> started -> success | failure | retry,  a retry goes back to
enqueued as a new attempt, and a job that has not started can be cancelled.  A job that depends on
others (a chain's next step, a chord's callback: celery_bridge.core.flows) starts out ``waiting``:
it is never sent until its dependencies release it to pending, or is cancelled.  Reports from workers
arrive late, twice or out of order (batched write-back, redelivered messages, several worker
processes), so every report is judged against the job's current state *and attempt*: a report can
only move a job forward within the attempt it belongs to.
"""
from typing import NamedTuple

WAITING = "waiting"
PENDING = "pending"
ENQUEUED = "enqueued"
STARTED = "started"
RETRY = "retry"
SUCCESS = "success"
FAILURE = "failure"
CANCELLED = "cancelled"

# Order matters: it is the order of the selection field in Odoo.
STATES = [
    (WAITING, "Waiting for dependencies"),
    (PENDING, "Pending"),
    (ENQUEUED, "Enqueued"),
    (STARTED, "Started"),
    (RETRY, "Waiting to retry"),
    (SUCCESS, "Success"),
    (FAILURE, "Failure"),
    (CANCELLED, "Cancelled"),
]
ALL_STATES = frozenset(state for state, _label in STATES)
TERMINAL = frozenset({SUCCESS, FAILURE, CANCELLED})

# A pending job may jump straight to started/success/failure: the worker can report before the
# publisher has committed the "enqueued" mark of the very message it is running.
TRANSITIONS = {
    # Released to pending when its dependencies succeeded (Odoo decides, never a worker's report).
    WAITING: frozenset({PENDING, CANCELLED}),
    PENDING: frozenset({ENQUEUED, STARTED, SUCCESS, FAILURE, RETRY, CANCELLED}),
    ENQUEUED: frozenset({STARTED, SUCCESS, FAILURE, RETRY, CANCELLED}),
    # started -> cancelled only when a manager terminates the running task.
    STARTED: frozenset({SUCCESS, FAILURE, RETRY, CANCELLED}),
    RETRY: frozenset({ENQUEUED, CANCELLED}),
    SUCCESS: frozenset(),
    FAILURE: frozenset(),
    CANCELLED: frozenset(),
}

# What a worker may report; "progress" and "heartbeat" change no state. A worker reports "retry"
# only to defer a job it did not run (circuit open, idempotency key busy): failures are reported
# as "failure" and Odoo's retry policy decides whether they become a retry.
PROGRESS = "progress"
HEARTBEAT = "heartbeat"
NO_STATE_CHANGE = frozenset({PROGRESS, HEARTBEAT})
REPORTABLE = frozenset({STARTED, SUCCESS, FAILURE, RETRY, PROGRESS, HEARTBEAT})

# States a publisher may pick a job up from (a first send, or the next attempt of a retry).
PUBLISHABLE = frozenset(state for state, targets in TRANSITIONS.items() if ENQUEUED in targets)
CANCELLABLE = frozenset(state for state, targets in TRANSITIONS.items() if CANCELLED in targets) - {STARTED}
TERMINABLE = frozenset({STARTED})


class Verdict(NamedTuple):
    apply: bool
    reason: str


APPLIED = "applied"
STALE_ATTEMPT = "stale_attempt"
DUPLICATE = "duplicate"
OUT_OF_ORDER = "out_of_order"
INVALID = "invalid"


def can_transition(source, target):
    return target in TRANSITIONS.get(source, ())


def sources_of(target):
    """Every state from which ``target`` may be reached (used to build SQL guards)."""
    return frozenset(state for state, targets in TRANSITIONS.items() if target in targets)


def judge_report(state, attempt, reported_state, reported_attempt):
    """Decide whether a worker's report applies to a job now in ``state`` at ``attempt``.

    Never raises for a well-formed but late report: it answers why it is ignored, so the
    write-back can acknowledge it and move on.
    """
    if reported_state not in REPORTABLE:
        return Verdict(False, INVALID)
    if reported_attempt != attempt:
        return Verdict(False, STALE_ATTEMPT)
    if state == WAITING:
        return Verdict(False, OUT_OF_ORDER)  # never sent: no worker can be running it
    if reported_state in NO_STATE_CHANGE:
        if state in TERMINAL or state == RETRY:
            return Verdict(False, OUT_OF_ORDER)
        return Verdict(True, APPLIED)
    if reported_state == state:
        return Verdict(False, DUPLICATE)
    if not can_transition(state, reported_state):
        return Verdict(False, OUT_OF_ORDER)
    return Verdict(True, APPLIED)


# A report that comes after the reaper gave up on its attempt (its worker was silent past the lease:
# Odoo down, a network split, a spool another process left behind) may still tell the truth: the
# attempt ran to the end. Only a success is worth taking back; a late failure or a state change of
# an attempt nobody waits for any more changes nothing.
LEASE_EXPIRED = "lease_expired"
# Where the job may be after the reaper took attempt N back: failed for good (N went to the dead
# letters), waiting to retry N, or already sent again as a later attempt that has not finished.
LATE_SUCCESS_SETTLES = frozenset({FAILURE, RETRY, PENDING, ENQUEUED, STARTED})


def judge_late_success(state, attempt, reported_attempt, reaped_attempt, finished_within_lease):
    """Whether a ``success`` report refused by :func:`judge_report` still settles its job.

    ``reaped_attempt`` is the attempt the reaper last gave up on (worker_lost), or None;
    ``finished_within_lease`` whether the report's run ended before that attempt's lease ran out,
    i.e. the worker was alive and only its report was late. Such a success settles the job:

    - the reaped attempt failed for good (``failure`` at that attempt): the dead letter was wrong;
    - it became a retry, or a later attempt was sent (``retry``/``pending``/``enqueued``/``started``
      at that attempt or after it): the later attempt has nothing left to do. Its message finds the
      job's idempotency claim done and returns this result without running (the claim outlives the
      broker's visibility timeout: celery_bridge.broker.claims.Claims.finish), and its own reports are then late.

    A success of an attempt older than the reaped one is ignored (that attempt was already judged
    before the reap), as is one of a run that ended after its lease, and a job that ended meanwhile
    in another way (succeeded, cancelled, failed again later).
    """
    if not reaped_attempt or reported_attempt != reaped_attempt:
        return Verdict(False, STALE_ATTEMPT)
    if not finished_within_lease:
        return Verdict(False, LEASE_EXPIRED)
    if state not in LATE_SUCCESS_SETTLES:
        return Verdict(False, OUT_OF_ORDER)
    if state in (FAILURE, RETRY) and attempt != reaped_attempt:
        return Verdict(False, OUT_OF_ORDER)  # a later attempt failed or is waiting on its own account
    if attempt < reaped_attempt:
        return Verdict(False, STALE_ATTEMPT)
    return Verdict(True, APPLIED)


def late_heartbeat_renews(reported_attempt, reaped_attempt, beat_at, reaped_lease_end):
    """Whether a late heartbeat shows the reaped attempt's worker was alive within its lease, which
    it then renews: a long run whose heartbeats waited in the spool with its success ran within
    its lease as surely as a short one."""
    return bool(reaped_attempt) and reported_attempt == reaped_attempt and beat_at is not None \
        and reaped_lease_end is not None and beat_at <= reaped_lease_end
