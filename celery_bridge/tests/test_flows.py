"""Job flows without Odoo: what becomes of a job waiting for others, what its task receives of their
results, the dispatch options that ask for it, and the signature that covers those results."""
import json
from types import SimpleNamespace

import pytest

from celery_bridge.core import dispatch_rules, flows, jobstate as js, limits, protocol, signing
from celery_bridge.worker.context import job_context

S, F, C = js.SUCCESS, js.FAILURE, js.CANCELLED


# ---------------------------------------------------------------- releasing a waiting job

def test_a_waiting_job_is_released_only_when_every_dependency_succeeded():
    assert flows.judge_dependent(js.WAITING, [S, S]).decision == flows.RELEASE
    for unfinished in (js.WAITING, js.PENDING, js.ENQUEUED, js.STARTED, js.RETRY):
        assert flows.judge_dependent(js.WAITING, [S, unfinished]).decision == flows.KEEP_WAITING, unfinished


@pytest.mark.parametrize("ended_badly", [F, C])
def test_a_failed_or_cancelled_dependency_cancels_at_once_under_the_cancel_rule(ended_badly):
    judgement = flows.judge_dependent(js.WAITING, [js.STARTED, ended_badly, S], flows.ON_FAILURE_CANCEL)
    assert (judgement.decision, judgement.culprit) == (flows.CANCEL, 1)  # without waiting for the others


@pytest.mark.parametrize("ended_badly", [F, C])
def test_the_wait_rule_keeps_waiting_and_goes_on_once_the_stand_in_succeeds(ended_badly):
    assert flows.judge_dependent(js.WAITING, [S, ended_badly], flows.ON_FAILURE_WAIT).decision == flows.KEEP_WAITING
    # The requeued job took the failed one's place (engine.dependencies.hand_over) and succeeded:
    assert flows.judge_dependent(js.WAITING, [S, S], flows.ON_FAILURE_WAIT).decision == flows.RELEASE


def test_a_job_that_is_not_waiting_is_left_alone():
    for state in (js.PENDING, js.ENQUEUED, js.STARTED, js.RETRY, S, F, C):
        assert flows.judge_dependent(state, [F], flows.ON_FAILURE_CANCEL).decision == flows.NOTHING, state


def test_a_chunked_jobs_parent_settles_when_its_last_chunk_ends_whatever_its_rule():
    assert flows.judge_dependent(js.STARTED, [S, js.STARTED], aggregate=True).decision == flows.KEEP_WAITING
    # A failed chunk does not end the parent early: the others still run and count.
    judgement = flows.judge_dependent(js.STARTED, [F, js.STARTED], aggregate=True)
    assert (judgement.decision, judgement.done, judgement.failed) == (flows.KEEP_WAITING, 1, 1)
    assert flows.judge_dependent(js.STARTED, [S, S], aggregate=True).decision == flows.SUCCEED
    judgement = flows.judge_dependent(js.STARTED, [S, F, C], flows.ON_FAILURE_WAIT, aggregate=True)
    assert (judgement.decision, judgement.done, judgement.failed) == (flows.FAIL, 3, 2)
    # A chunk not linked yet counts as unfinished.
    assert flows.judge_dependent(js.STARTED, [S], aggregate=True, expected=2).decision == flows.KEEP_WAITING
    assert flows.judge_dependent(C, [S, S], aggregate=True).decision == flows.NOTHING


def test_the_new_state_fits_the_state_machine():
    assert js.STATES[0] == (js.WAITING, "Waiting for dependencies")
    assert js.TRANSITIONS[js.WAITING] == {js.PENDING, js.CANCELLED}
    assert js.WAITING not in js.PUBLISHABLE and js.WAITING in js.CANCELLABLE
    assert js.WAITING not in js.TERMINAL
    # No worker report applies to a job never sent.
    for reported in js.REPORTABLE:
        assert not js.judge_report(js.WAITING, 0, reported, 0).apply


# ---------------------------------------------------------------- dispatch options

def test_dependency_options_are_checked():
    assert "depends_on" in dispatch_rules.DISPATCH_OPTIONS
    assert dispatch_rules.dependency_request([3, 2, 3], None) == ([3, 2], flows.ON_FAILURE_CANCEL)
    assert dispatch_rules.dependency_request(7, "wait") == ([7], flows.ON_FAILURE_WAIT)
    assert dispatch_rules.dependency_request(None, None) == ([], flows.ON_FAILURE_CANCEL)
    for bad, message in [("1,2", "list of job ids"), ([1, "2"], "list of job ids"), ([True], "list of job ids"),
                         ([0], "list of job ids"), ([2**31], "list of job ids"),
                         (list(range(1, limits.MAX_DEPENDENCIES + 2)), "at most")]:
        with pytest.raises(dispatch_rules.DispatchRefused, match=message):
            dispatch_rules.dependency_request(bad, None)
    with pytest.raises(dispatch_rules.DispatchRefused, match="on_dependency_failure must be one of cancel, wait"):
        dispatch_rules.dependency_request([1], "retry")


def test_a_new_job_starts_waiting_pending_or_is_refused():
    assert dispatch_rules.initial_state([(1, S), (2, S)], "cancel") == js.PENDING
    assert dispatch_rules.initial_state([(1, S), (2, js.STARTED)], "cancel") == js.WAITING
    assert dispatch_rules.initial_state([(1, F)], "wait") == js.WAITING
    with pytest.raises(dispatch_rules.DispatchRefused, match="Job 2, which it would depend on, has failed"):
        dispatch_rules.initial_state([(1, js.STARTED), (2, F)], "cancel")
    with pytest.raises(dispatch_rules.DispatchRefused, match="has been cancelled"):
        dispatch_rules.initial_state([(5, C)], "cancel")


# ---------------------------------------------------------------- results reaching the task

def dep(job_id, result, size=None):
    text = None if result is None else json.dumps(result)
    return flows.Dependency(job_id, f"uuid-{job_id}", "smart_dairy.health.ping", text,
                            size if size is not None else len(text))


def test_results_are_given_in_order_decoded():
    entries = flows.dependency_results([dep(1, {"rows": 3}), dep(2, None, size=4), dep(3, [1, 2])], budget=1000)
    assert entries[0] == {"job_id": 1, "uuid": "uuid-1", "task_name": "smart_dairy.health.ping", "result": {"rows": 3}}
    assert entries[1]["truncated"] and entries[1]["size"] == 4  # not read: too large for the whole budget
    assert entries[2]["result"] == [1, 2]


def test_a_result_too_large_for_what_is_left_is_left_out_whole_and_smaller_ones_still_fit():
    big = {"data": "x" * 80}
    entries = flows.dependency_results([dep(1, big), dep(2, big), dep(3, 1)], budget=150)
    assert entries[0]["result"] == big
    assert entries[1] == {"job_id": 2, "uuid": "uuid-2", "task_name": "smart_dairy.health.ping", "truncated": True,
                          "size": len(json.dumps(big))}
    assert entries[2]["result"] == 1
    assert len(json.dumps([e.get("result") for e in entries])) <= 150 + 20


def test_the_signature_covers_the_dependency_results_and_leaves_other_messages_as_they_were():
    fields = ("smart_dairy.health.ping", "uuid-1", [], {}, 1, None, 1, 2)
    results = [{"job_id": 1, "uuid": "u", "task_name": "t", "result": {"total": 10}}]
    signature = signing.sign("s3cret", *fields, results)
    assert signing.problem(["s3cret"], signature, *fields, results) is None
    forged = [{"job_id": 1, "uuid": "u", "task_name": "t", "result": {"total": 11}}]
    assert signing.problem(["s3cret"], signature, *fields, forged) == "the message's signature does not match"
    assert signing.problem(["s3cret"], signature, *fields) is not None  # results dropped from the message
    # A message without dependencies is signed as before flows existed (old workers keep accepting it).
    assert signing.sign("s3cret", *fields) == signing.sign("s3cret", *fields, None)


def test_the_worker_reads_the_results_from_the_message():
    results = [{"job_id": 1, "uuid": "u", "task_name": "t", "result": 42}, "not a dict"]
    request = SimpleNamespace(id="job-uuid", headers={protocol.ATTEMPT_HEADER: 1,
                                                      protocol.DEPENDENCY_RESULTS_HEADER: results})
    assert job_context(request).dependency_results == (results[0],)
    plain = SimpleNamespace(id="job-uuid", headers={protocol.ATTEMPT_HEADER: 1})
    assert job_context(plain).dependency_results == ()
