import itertools

import pytest

from celery_bridge.core import jobstate as js


def test_happy_path_is_allowed():
    path = [js.PENDING, js.ENQUEUED, js.STARTED, js.SUCCESS]
    for source, target in zip(path, path[1:]):
        assert js.can_transition(source, target)


def test_retry_goes_back_to_enqueued_and_nowhere_else_forward():
    assert js.can_transition(js.STARTED, js.RETRY)
    assert js.can_transition(js.RETRY, js.ENQUEUED)
    assert not js.can_transition(js.RETRY, js.STARTED)
    assert not js.can_transition(js.RETRY, js.SUCCESS)


@pytest.mark.parametrize("terminal", sorted(js.TERMINAL))
def test_terminal_states_have_no_way_out(terminal):
    for target in js.ALL_STATES:
        assert not js.can_transition(terminal, target)


def test_a_running_job_is_only_terminated_and_only_a_waiting_job_becomes_pending():
    assert js.STARTED not in js.CANCELLABLE
    assert js.TERMINABLE == {js.STARTED} and js.can_transition(js.STARTED, js.CANCELLED)
    assert js.sources_of(js.PENDING) == {js.WAITING}  # released by its dependencies, never sent back
    assert js.sources_of(js.WAITING) == frozenset()


def test_publishable_and_cancellable_states():
    assert js.PUBLISHABLE == {js.PENDING, js.RETRY}
    assert js.CANCELLABLE == {js.WAITING, js.PENDING, js.ENQUEUED, js.RETRY}


def test_late_started_after_success_changes_nothing():
    verdict = js.judge_report(js.SUCCESS, 1, js.STARTED, 1)
    assert verdict == js.Verdict(False, js.OUT_OF_ORDER)


def test_repeated_report_is_a_duplicate():
    assert js.judge_report(js.SUCCESS, 1, js.SUCCESS, 1) == js.Verdict(False, js.DUPLICATE)
    assert js.judge_report(js.STARTED, 2, js.STARTED, 2) == js.Verdict(False, js.DUPLICATE)


def test_report_of_another_attempt_is_stale():
    assert js.judge_report(js.ENQUEUED, 2, js.SUCCESS, 1) == js.Verdict(False, js.STALE_ATTEMPT)
    assert js.judge_report(js.ENQUEUED, 1, js.SUCCESS, 2) == js.Verdict(False, js.STALE_ATTEMPT)


def test_report_can_overtake_the_enqueued_mark():
    assert js.judge_report(js.PENDING, 1, js.STARTED, 1).apply
    assert js.judge_report(js.PENDING, 1, js.SUCCESS, 1).apply


def test_workers_cannot_report_pending_enqueued_or_cancelled():
    for state in (js.PENDING, js.ENQUEUED, js.CANCELLED, "bogus"):
        assert js.judge_report(js.ENQUEUED, 1, state, 1) == js.Verdict(False, js.INVALID)


@pytest.mark.parametrize("kind", [js.PROGRESS, js.HEARTBEAT])
def test_progress_and_heartbeats_apply_only_while_the_attempt_is_live(kind):
    assert js.judge_report(js.STARTED, 1, kind, 1).apply
    assert not js.judge_report(js.SUCCESS, 1, kind, 1).apply
    assert not js.judge_report(js.RETRY, 1, kind, 1).apply
    assert not js.judge_report(js.STARTED, 2, kind, 1).apply


def test_no_sequence_of_reports_moves_a_job_backwards():
    """Whatever order reports of one attempt arrive in, the state only ever moves forward."""
    rank = {js.PENDING: 0, js.ENQUEUED: 1, js.STARTED: 2, js.RETRY: 3, js.SUCCESS: 3, js.FAILURE: 3}
    reports = [js.STARTED, js.SUCCESS, js.FAILURE, js.RETRY, js.PROGRESS, js.HEARTBEAT]
    for order in itertools.permutations(reports):
        state = js.ENQUEUED
        terminal_seen = False
        for reported in order:
            if js.judge_report(state, 1, reported, 1).apply and reported not in js.NO_STATE_CHANGE:
                assert rank[reported] >= rank[state]
                assert not terminal_seen
                state = reported
                terminal_seen = state in js.TERMINAL or state == js.RETRY
