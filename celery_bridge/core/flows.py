"""Job flows: a job that waits for others, written once and unit-tested without Odoo.

A chain's next step, a chord's callback and a chunked job's summary are ordinary jobs that depend on
other jobs. They are created ``waiting`` (celery_bridge.core.jobstate) and judged again, in the
transaction that ends one of their dependencies, by :func:`judge_dependent`:

- every dependency succeeded: the job is released (pending, then sent as any job);
- one failed or was cancelled: the job is cancelled (rule ``cancel``, the default; its own dependents
  are then judged in turn) or keeps waiting (rule ``wait``: a Jobs manager may requeue the failed
  dependency, whose new job then stands in for it);
- otherwise it keeps waiting.

A chunked job's parent (``aggregate``) is never sent: it ends when its last dependency (chunk) ends,
in success if every chunk succeeded, else in failure — whatever its rule.

What a released job's task receives of its dependencies' results is :func:`dependency_results`,
bounded by ``limits.MAX_DEPENDENCY_RESULTS_SIZE``.
"""
import json
from typing import NamedTuple, Optional

from celery_bridge.core import jobstate

ON_FAILURE_CANCEL = "cancel"
ON_FAILURE_WAIT = "wait"
# Order matters: it is the order of the selection field in Odoo.
ON_DEPENDENCY_FAILURE = [
    (ON_FAILURE_CANCEL, "Cancel it"),
    (ON_FAILURE_WAIT, "Keep waiting (until a requeued dependency succeeds)"),
]
ON_FAILURE_RULES = frozenset(rule for rule, _label in ON_DEPENDENCY_FAILURE)

# A dependency in one of these states will never succeed by itself.
FAILED = frozenset({jobstate.FAILURE, jobstate.CANCELLED})

# Decisions about a dependent job.
RELEASE = "release"  # waiting -> pending: it is sent
CANCEL = "cancel"  # waiting -> cancelled
KEEP_WAITING = "keep_waiting"  # nothing changes (a parent's progress may)
SUCCEED = "succeed"  # a parent whose chunks all succeeded
FAIL = "fail"  # a parent whose chunks all ended, some not in success
NOTHING = "nothing"  # not a job that waits (already released or ended)


class Judgement(NamedTuple):
    decision: str
    culprit: Optional[int] = None  # the index, among the dependencies given, of one that failed
    done: int = 0  # dependencies that ended (success, failure, cancelled)
    failed: int = 0  # dependencies that ended other than in success


def judge_dependent(state, dependency_states, on_failure=ON_FAILURE_CANCEL, aggregate=False, expected=0):
    """What becomes of a job in ``state`` whose dependencies are in ``dependency_states`` (a sequence).

    ``aggregate``: the job is a chunked job's parent, settled by its chunks rather than released, once
    all of them ended — at least ``expected`` (its chunk count: one not yet linked counts as unfinished).
    """
    states = list(dependency_states)
    done = sum(1 for dep_state in states if dep_state in jobstate.TERMINAL)
    failed_at = [index for index, dep_state in enumerate(states) if dep_state in FAILED]
    culprit = failed_at[0] if failed_at else None
    counts = {"culprit": culprit, "done": done, "failed": len(failed_at)}
    if state in jobstate.TERMINAL:
        return Judgement(NOTHING, **counts)
    if aggregate:
        if done < max(len(states), expected):
            return Judgement(KEEP_WAITING, **counts)
        return Judgement(FAIL if failed_at else SUCCEED, **counts)
    if state != jobstate.WAITING:
        return Judgement(NOTHING, **counts)
    if failed_at and on_failure != ON_FAILURE_WAIT:
        return Judgement(CANCEL, **counts)
    if all(dep_state == jobstate.SUCCESS for dep_state in states):
        return Judgement(RELEASE, **counts)
    return Judgement(KEEP_WAITING, **counts)


class Dependency(NamedTuple):
    """A finished dependency as the outbox reads it: ``result_json`` is None when it was too large to read."""

    job_id: int
    uuid: str
    task_name: str
    result_json: Optional[str]
    size: int  # characters of its result_json


def dependency_results(dependencies, budget):
    """What a released job's task is told of its dependencies' results (its job context's
    ``dependency_results``): one dict per dependency, in the order given (Odoo gives them by id, i.e.
    in the order they were dispatched): ``{"job_id", "uuid", "task_name", "result"}``.

    The results together stay within ``budget`` characters of JSON. A result that does not fit in
    what is left (or was not read at all, being larger than the whole budget) is left out whole,
    never cut: its entry says ``"truncated": true`` and the ``size`` of its JSON instead, and the task
    may read it from Odoo. Later, smaller results may still fit.
    """
    entries = []
    left = budget
    for dep in dependencies:
        entry = {"job_id": dep.job_id, "uuid": dep.uuid, "task_name": dep.task_name}
        text = dep.result_json
        if text is not None and dep.size <= left:
            try:
                entry["result"] = json.loads(text) if text else None
            except ValueError:
                entry["result"] = text  # not JSON (written by hand?): given as the text it is
            left -= dep.size
        else:
            entry.update(truncated=True, size=dep.size)
        entries.append(entry)
    return entries
