"""Job flows on real workers: a chain dispatched over XML-RPC runs step by step, each step receiving the
result of the one before in its (signed) message; a chord's callback runs only once its whole group
finished, with every result."""
import json

from .test_walking_skeleton import read_job, wait_for_state

PING = "smart_dairy.health.ping"
SLEEP = "smart_dairy.health.sleep"


def test_a_chain_runs_its_steps_in_turn_each_with_the_result_before(worker, gateway):
    first, second = gateway("smart_dairy.job", "dispatch_chain", [{"task_name": PING}, {"task_name": PING}])
    done = wait_for_state(gateway, second, "success")
    before = read_job(gateway, first)
    assert before["state"] == "success" and before["date_done"] <= done["date_started"]
    [received] = json.loads(done["result_json"])["dependency_results"]
    assert received == {"job_id": first, "uuid": before["uuid"], "task_name": PING,
                        "result": json.loads(before["result_json"])}


def test_a_chords_callback_runs_after_its_whole_group_with_every_result(worker, admin):
    *group, callback = admin("smart_dairy.job", "dispatch_chord",
                             [{"task_name": SLEEP, "kwargs": {"seconds": 1.5}},
                              {"task_name": SLEEP, "kwargs": {"seconds": 0.2}}],
                             {"task_name": PING})
    done = wait_for_state(admin, callback, "success")
    members = [read_job(admin, job_id) for job_id in group]
    assert all(member["state"] == "success" and member["date_done"] <= done["date_started"] for member in members)
    received = json.loads(done["result_json"])["dependency_results"]
    assert [(entry["job_id"], entry["result"]) for entry in received] == [
        (group[0], {"slept": 1.5}), (group[1], {"slept": 0.2})]
