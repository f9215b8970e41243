"""Issue 19, job flows: chains, chords and chunked jobs as jobs that wait for others. A waiting job is
released when its dependencies all succeeded (with their results), cancelled or kept waiting when one
fails, as its rule says; all in the transaction that ends the dependency. Refusals assert the fault AND
that nothing was written (links between jobs included)."""
import json

from odoo import Command
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import HttpCase, new_test_user, tagged

from celery_bridge.core import jobstate

from ..engine import dependencies, outbox
from .helpers import trap_jobs
from .test_trust import FAIL, PING, TrustCase

MONTH_END, MONTH_END_CHUNK = "flows.month_end", "flows.month_end_chunk"


class FlowsCase(TrustCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Fails diagnostics (system administrators) and handles dead letters (Jobs managers).
        cls.admin_a = new_test_user(cls.env, login="flows_admin_a", name="flows_admin_a",
                                    groups="base.group_user,base.group_system,smart_dairy_jobs.group_manager",
                                    company_id=cls.company_a.id, company_ids=[cls.company_a.id])
        Task = cls.env["smart_dairy.job.task"]
        queue = cls.env.ref("smart_dairy_jobs.queue_celery").id
        cls.month_end = Task.create({"name": MONTH_END, "category": "sync", "queue_id": queue, "max_retries": 0})
        cls.month_end_chunk = Task.create({"name": MONTH_END_CHUNK, "category": "sync", "queue_id": queue,
                                           "max_retries": 0})

    def counts(self):
        counts = super().counts()
        self.env.cr.execute(f"SELECT count(*) FROM {dependencies.RELATION}")
        counts["links"] = self.env.cr.fetchone()[0]
        return counts

    def report(self, *reports):
        return self.Job.with_user(self.bridge).bridge_report(list(reports))

    def succeed(self, job, result):
        job = job.sudo()
        job.write({"state": "enqueued", "attempt": job.attempt + 1})
        self.report({"uuid": job.uuid, "attempt": job.attempt, "state": "started"},
                    {"uuid": job.uuid, "attempt": job.attempt, "state": "success", "result": json.dumps(result)})
        self.assertEqual(job.state, "success")

    def fail_for_good(self, job):
        job = job.sudo()
        job.write({"state": "enqueued", "attempt": job.attempt + 1})
        self.report({"uuid": job.uuid, "attempt": job.attempt, "state": "failure", "error_type": "validation",
                     "error_message": "bad input"})
        self.assertEqual(job.state, "failure")

    def states(self, jobs):
        jobs.invalidate_recordset()
        return jobs.sudo().mapped("state")

    def scheduled_for_publishing(self):
        return self.env.cr.postcommit.data.get(outbox.POSTCOMMIT_KEY, set())


class TestChainsAndChords(FlowsCase):
    def test_a_chain_runs_step_by_step_each_step_with_the_result_before_it(self):
        with trap_jobs(self.env) as trap:
            first, second, third = self.Job.with_user(self.jobs_user_a).dispatch_chain(
                [{"task_name": PING}, {"task_name": PING, "priority": 2}, {"task_name": PING}])
        self.assertEqual(self.states(first | second | third), ["pending", "waiting", "waiting"])
        self.assertEqual([trapped.depends_on for trapped in trap.jobs], [(), (first.id,), (second.id,)])
        self.assertEqual((second.sudo().priority, second.sudo().dependent_ids), (2, third.sudo()))
        # Only the first is due for the broker: the others wait in Odoo.
        self.assertIn(first.id, self.scheduled_for_publishing())
        self.assertFalse({second.id, third.id} & self.scheduled_for_publishing())
        with self.assertRaises(AssertionError):
            trap.perform(trap.jobs[2])  # a waiting job does not run
        results = trap.perform_flow()
        self.assertEqual(self.states(first | second | third), ["success"] * 3)
        self.assertNotIn("dependency_results", results[first.id])
        [received] = results[third.id]["dependency_results"]
        self.assertEqual(received, {"job_id": second.id, "uuid": second.sudo().uuid, "task_name": PING,
                                    "result": json.loads(json.dumps(results[second.id]))})
        self.assertEqual(results[second.id]["dependency_results"][0]["job_id"], first.id)
        self.assertTrue(third.sudo().date_released)

    def test_a_chords_callback_runs_once_its_whole_group_succeeded_with_every_result(self):
        jobs = self.Job.with_user(self.jobs_user_a).dispatch_chord(
            [{"task_name": PING}, {"task_name": PING}], {"task_name": PING, "priority": 1})
        first, second, callback = jobs.sudo()
        self.assertEqual((callback.depends_on_ids, callback.priority), (first | second, 1))
        self.assertEqual(self.states(jobs), ["pending", "pending", "waiting"])
        self.succeed(second, {"rows": 2})
        self.assertEqual(callback.state, "waiting")
        self.assertNotIn(callback.id, self.scheduled_for_publishing())
        self.succeed(first, {"rows": 1})
        self.assertEqual(callback.state, "pending")  # in the write-back's own transaction
        self.assertIn(callback.id, self.scheduled_for_publishing())
        expected = [{"job_id": first.id, "uuid": first.uuid, "task_name": PING, "result": {"rows": 1}},
                    {"job_id": second.id, "uuid": second.uuid, "task_name": PING, "result": {"rows": 2}}]
        self.assertEqual(dependencies.results_by_job(self.env.cr, callback.ids), {callback.id: expected})
        self.assertEqual(json.loads(callback.with_user(self.jobs_user_a).dependency_results_display), expected)

    def test_dispatch_takes_depends_on_and_a_job_whose_dependencies_succeeded_starts_pending(self):
        done = self.job_of(self.jobs_user_a)
        self.succeed(done, "ok")
        running = self.job_of(self.jobs_user_a)
        waits = self.job_of(self.jobs_user_a, depends_on=[done.id, running.id], on_dependency_failure="wait")
        self.assertEqual((waits.state, waits.on_dependency_failure), ("waiting", "wait"))
        released = self.job_of(self.jobs_user_a, depends_on=done.id)
        self.assertEqual(released.state, "pending")
        many = self.Job.with_user(self.jobs_user_a).dispatch_many([{"task_name": PING, "depends_on": [running.id]}])
        self.assertEqual(many.sudo().state, "waiting")

    def test_the_flow_is_drawn_with_the_jobs_the_user_may_read_only(self):
        a, b, c = self.Job.with_user(self.jobs_user_a).dispatch_chain([{"task_name": PING}] * 3)
        graph = b.dependency_graph
        self.assertEqual(sorted(node["id"] for node in graph["nodes"]), [a.id, b.id, c.id])
        self.assertEqual(graph["edges"], [[a.id, b.id], [b.id, c.id]])
        self.assertEqual([node["borderWidth"] for node in graph["nodes"]], [1, 3, 1])  # this job stands out
        # A link to another company's job (never made by dispatch) does not show it, nor lead past it.
        theirs, beyond = self.Job.with_user(self.jobs_user_b).dispatch_chain([{"task_name": PING}] * 2)
        dependencies.link(self.Job, [(theirs.id, c.id)])
        graph = b.with_user(self.jobs_user_a).dependency_graph
        self.assertEqual(sorted(node["id"] for node in graph["nodes"]), [a.id, b.id, c.id])
        self.assertNotIn(beyond.id, [node["id"] for node in dependencies.flow_graph(b.with_user(self.jobs_user_a))
                                     ["nodes"]])
        bounded = dependencies.flow_graph(a.with_user(self.jobs_user_a), max_nodes=2)
        self.assertEqual((len(bounded["nodes"]), bounded["truncated"]), (2, True))
        self.assertFalse(self.job_of(self.jobs_user_a).dependency_graph)


class TestDependencyFailures(FlowsCase):
    def test_a_failure_cancels_the_rest_of_the_chain_and_only_the_failure_is_a_dead_letter(self):
        first, second, third = self.Job.with_user(self.admin_a).dispatch_chain(
            [{"task_name": FAIL, "kwargs": {"error_type": "validation"}}, {"task_name": PING}, {"task_name": PING}])
        self.fail_for_good(first)
        self.assertEqual(self.states(first | second | third), ["failure", "cancelled", "cancelled"])
        self.assertIn(f"job #{first.id}, which it waited for, ended in failure", second.sudo().error_message)
        self.assertIn(f"job #{second.id}, which it waited for, ended in cancelled", third.sudo().error_message)
        self.assertTrue(third.sudo().date_done)
        self.assertEqual(self.env["smart_dairy.job.dead.letter"].search_count(
            [("job_id", "in", (first | second | third).ids)]), 1)

    def test_cancelling_a_waiting_job_cancels_those_waiting_for_it(self):
        first, second, third = self.Job.with_user(self.jobs_user_a).dispatch_chain([{"task_name": PING}] * 3)
        self.assertEqual(self.Job.with_user(self.jobs_user_a).cancel([second.id]), [second.id])
        self.assertEqual(self.states(first | second | third), ["pending", "cancelled", "cancelled"])
        self.succeed(first, 1)  # its success changes nothing for jobs already cancelled
        self.assertEqual(self.states(second | third), ["cancelled", "cancelled"])

    def test_the_wait_rule_keeps_waiting_until_a_requeued_dependency_succeeds(self):
        failing = self.job_of(self.admin_a, FAIL, kwargs={"error_type": "validation"})
        other = self.job_of(self.admin_a)
        waiting = self.job_of(self.admin_a, depends_on=[failing.id, other.id], on_dependency_failure="wait")
        cancelling = self.job_of(self.admin_a, depends_on=[failing.id])
        self.succeed(other, "fine")
        self.fail_for_good(failing)
        self.assertEqual((waiting.state, cancelling.state), ("waiting", "cancelled"))
        [new_job_id] = self.env["smart_dairy.job.dead.letter"].with_user(self.admin_a).requeue(
            failing.dead_letter_ids.ids)
        new_job = self.Job.browse(new_job_id).sudo()
        self.assertEqual(waiting.depends_on_ids, other | new_job)  # the new job stands in for the failed one
        self.assertEqual(cancelling.depends_on_ids, failing)  # an ended job's links stay as they were
        self.assertEqual(waiting.state, "waiting")
        self.succeed(new_job, "fixed")
        self.assertEqual(waiting.state, "pending")
        self.assertEqual([entry["result"] for entry in dependencies.results_by_job(self.env.cr, waiting.ids)
                          [waiting.id]], ["fine", "fixed"])

    def test_a_late_success_releases_what_waits_for_it(self):
        lost = self.job_of(self.admin_a, "smart_dairy.health.sleep", kwargs={"seconds": 1})
        waiting = self.job_of(self.admin_a, depends_on=[lost.id], on_dependency_failure="wait")
        lost.write({"state": "failure", "attempt": 1, "reaped_attempt": 1,
                    "reaped_lease_end": "2099-01-01 00:00:00"})
        self.report({"uuid": lost.uuid, "attempt": 1, "state": "success", "result": "1",
                     "at": "2026-01-01 00:00:00.000000"})
        self.assertEqual((lost.state, waiting.state), ("success", "pending"))

    def test_the_reaper_releases_jobs_a_race_left_waiting(self):
        dependency = self.job_of(self.jobs_user_a)
        waiting = self.job_of(self.jobs_user_a, depends_on=[dependency.id])
        doomed = self.job_of(self.jobs_user_a, depends_on=[dependency.id, waiting.id])
        kept = self.job_of(self.jobs_user_a, depends_on=[dependency.id], on_dependency_failure="wait")
        # The dependency ended in a transaction that could not see the jobs waiting for it.
        self.env.flush_all()
        self.env.cr.execute("UPDATE smart_dairy_job SET state = 'success' WHERE id = %s", [dependency.id])
        self.env.invalidate_all()
        self.Job._cron_reap_stuck_jobs()
        self.assertEqual((waiting.state, doomed.state, kept.state), ("pending", "waiting", "pending"))
        other = self.job_of(self.jobs_user_a)
        waits_for_other = self.job_of(self.jobs_user_a, depends_on=[other.id])
        keeps_waiting = self.job_of(self.jobs_user_a, depends_on=[other.id], on_dependency_failure="wait")
        self.env.flush_all()
        self.env.cr.execute("UPDATE smart_dairy_job SET state = 'failure' WHERE id = %s", [other.id])
        self.env.invalidate_all()
        self.Job._cron_reap_stuck_jobs()
        self.assertEqual((waits_for_other.state, keeps_waiting.state), ("cancelled", "waiting"))


class TestChunkedJobs(FlowsCase):
    def dispatch_month_end(self, user=None, **options):
        return self.Job.with_user(user or self.jobs_user_a).dispatch_chunked(
            MONTH_END, [1, 2, 3, 4, 5], chunk_size=2, chunk_task_name=MONTH_END_CHUNK, **options).sudo()

    def test_the_parent_waits_for_its_chunks_and_the_summary_runs_after_them_all(self):
        parent = self.dispatch_month_end(summary={"task_name": PING, "priority": 3})
        chunks, summary = parent.child_ids.sorted("id"), parent.summary_job_id
        self.assertEqual((parent.state, parent.depends_on_ids, len(chunks)), ("started", chunks, 3))
        self.assertEqual((summary.state, summary.depends_on_ids, summary.priority), ("waiting", chunks, 3))
        self.assertNotIn(parent.state, jobstate.PUBLISHABLE)
        for index, chunk in enumerate(chunks, start=1):
            self.assertEqual(summary.state, "waiting")
            self.succeed(chunk, {"outcomes": [{"item": index}]})
            self.assertEqual((parent.chunks_done, parent.progress), (index, int(100 * index / 3)))
        self.assertEqual((parent.state, summary.state), ("success", "pending"))
        self.assertEqual(json.loads(parent.result_json)["outcomes"], [{"item": 1}, {"item": 2}, {"item": 3}])
        results = dependencies.results_by_job(self.env.cr, summary.ids)[summary.id]
        self.assertEqual([entry["result"] for entry in results], [{"outcomes": [{"item": i}]} for i in (1, 2, 3)])
        self.assertEqual(sorted(node["id"] for node in summary.dependency_graph["nodes"]),
                         sorted((parent | chunks | summary).ids))

    def test_a_failed_chunk_fails_the_parent_once_the_others_ended_and_cancels_the_summary(self):
        parent = self.dispatch_month_end(summary={"task_name": PING})
        first, second, third = parent.child_ids.sorted("id")
        self.fail_for_good(first)
        self.assertEqual((parent.state, parent.chunks_done, parent.summary_job_id.state), ("started", 1, "cancelled"))
        self.succeed(second, {})
        self.succeed(third, {})
        self.assertEqual(parent.state, "failure")
        self.assertIn("1 of 3 chunks failed", parent.error_message)

    def test_cancelling_the_parent_cancels_its_chunks_and_its_summary(self):
        parent = self.dispatch_month_end(summary={"task_name": PING, "on_dependency_failure": "wait"})
        first = parent.child_ids.sorted("id")[0]
        self.succeed(first, {})
        parent.with_user(self.jobs_user_a).action_cancel()
        self.assertEqual(self.states(parent | parent.child_ids.sorted("id") | parent.summary_job_id),
                         ["cancelled", "success", "cancelled", "cancelled", "cancelled"])


class TestFlowRefusals(FlowsCase):
    def test_a_job_depends_only_on_jobs_the_caller_may_read_of_its_own_company(self):
        theirs = self.job_of(self.jobs_user_b)
        mine = self.job_of(self.jobs_user_a)
        Job = self.Job.with_user(self.jobs_user_a)
        self.assertRefused(AccessError, Job.dispatch, PING, depends_on=[mine.id, theirs.id])
        self.assertRefused(AccessError, Job.dispatch_chain, [{"task_name": PING, "depends_on": [theirs.id]},
                                                            {"task_name": PING}])
        both = new_test_user(self.env, login="flows_both", name="flows_both",
                             groups="base.group_user,smart_dairy_jobs.group_user",
                             company_id=self.company_a.id, company_ids=[self.company_a.id, self.company_b.id])
        self.assertRefused(ValidationError, self.Job.with_user(both).with_context(
                           allowed_company_ids=[self.company_a.id, self.company_b.id]).dispatch, PING,
                           depends_on=[theirs.id], message="only on jobs of its own company")
        self.assertRefused(ValidationError, Job.dispatch, PING, depends_on=[2**31 - 1], message="No job with id")

    def test_the_table_set_up_is_refused_to_users_and_links_nothing(self):
        parent = self.job_of(self.jobs_user_a)
        chunk = self.job_of(self.jobs_user_a)
        self.env.cr.execute("UPDATE smart_dairy_job SET parent_id = %s WHERE id = %s", [parent.id, chunk.id])
        for user in (self.jobs_user_a, self.manager_a, self.sys_admin):
            with self.assertRaises(AccessError):
                self.Job.with_user(user).init()
        self.env.cr.execute(f"SELECT count(*) FROM {dependencies.RELATION} WHERE job_id = %s", [parent.id])
        self.assertEqual(self.env.cr.fetchone()[0], 0)

    def test_bad_dependency_options_are_refused(self):
        Job = self.Job.with_user(self.jobs_user_a)
        mine = self.job_of(self.jobs_user_a)
        for depends_on in ("1", [True], [mine.id, "x"], [0], {"id": mine.id}):
            self.assertRefused(ValidationError, Job.dispatch, PING, depends_on=depends_on, message="list of job ids")
        self.assertRefused(ValidationError, Job.dispatch, PING, depends_on=[mine.id], on_dependency_failure="later",
                           message="on_dependency_failure must be one of")
        self.assertRefused(ValidationError, Job.dispatch, PING, depends_on=list(range(1, 1002)), message="at most")

    def test_depending_on_a_job_that_already_failed_is_refused_unless_it_waits(self):
        failed = self.job_of(self.admin_a, FAIL, kwargs={"error_type": "validation"})
        self.fail_for_good(failed)
        Job = self.Job.with_user(self.admin_a)
        self.assertRefused(ValidationError, Job.dispatch, PING, depends_on=[failed.id], message="has failed")
        self.assertEqual(Job.dispatch(PING, depends_on=[failed.id], on_dependency_failure="wait").state, "waiting")

    def test_a_flow_is_refused_whole_when_one_request_is(self):
        Job = self.Job.with_user(self.jobs_user_a)
        self.assertRefused(AccessError, Job.dispatch_chain, [{"task_name": PING}, {"task_name": FAIL}])
        self.assertRefused(AccessError, Job.dispatch_chord, [{"task_name": PING}], {"task_name": FAIL})
        self.assertRefused(AccessError, self.Job.with_user(self.plain_a).dispatch_chain, [{"task_name": PING}])
        self.assertRefused(AccessError, self.Job.with_user(self.plain_a).dispatch_chord, [{"task_name": PING}],
                           {"task_name": PING})
        for call, args, message in [
            (Job.dispatch_chain, ([],), "at least one step"),
            (Job.dispatch_chain, ("ping",), "list of dicts"),
            (Job.dispatch_chain, ([{"task_name": PING, "idempotent": True}],), "one by one"),
            (Job.dispatch_chain, ([{"task_name": PING}, {"task_name": PING, "eta": "soon"}],), "eta must be"),
            (Job.dispatch_chain, ([{"task_name": PING}], "sometimes"), "on_dependency_failure must be one of"),
            (Job.dispatch_chord, ([], {"task_name": PING}), "group of at least one job"),
            (Job.dispatch_chord, ([{"task_name": PING}], PING), "callback must be a request"),
            (Job.dispatch_chord, ([{"task_name": PING}], {"task_name": "no.such.task"}), "Unknown task"),
        ]:
            self.assertRefused(ValidationError, call, *args, message=message)

    def test_chunked_jobs_refuse_dependencies_and_a_summary_the_caller_may_not_start(self):
        Job = self.Job.with_user(self.jobs_user_a)
        other = self.job_of(self.jobs_user_a)
        args = (MONTH_END, [1, 2], 1)
        self.assertRefused(ValidationError, Job.dispatch_chunked, *args, chunk_task_name=MONTH_END_CHUNK,
                           depends_on=[other.id], message="chunks start at once")
        self.assertRefused(ValidationError, Job.dispatch_chunked, *args, chunk_task_name=MONTH_END_CHUNK,
                           summary=PING, message="summary must be a request")
        self.assertRefused(ValidationError, Job.dispatch_chunked, *args, chunk_task_name=MONTH_END_CHUNK,
                           summary={"task_name": PING, "depends_on": [other.id]}, message="nothing else")
        self.assertRefused(AccessError, Job.dispatch_chunked, *args, chunk_task_name=MONTH_END_CHUNK,
                           summary={"task_name": FAIL})

    def test_links_change_only_through_dispatch_and_never_to_the_job_itself(self):
        job = self.job_of(self.manager_a)
        other = self.job_of(self.manager_a)
        self.assertRefused(AccessError, job.with_user(self.manager_a).write, {"depends_on_ids": [Command.link(other.id)]})
        with self.assertRaisesRegex(ValidationError, "cannot wait for itself"):
            job.write({"depends_on_ids": [Command.link(job.id)]})

    def test_a_waiting_job_is_cancelled_only_by_its_owner_or_a_manager(self):
        first, second = self.Job.with_user(self.jobs_user_a).dispatch_chain([{"task_name": PING}] * 2)
        someone = new_test_user(self.env, login="flows_someone", name="flows_someone",
                                groups="base.group_user,smart_dairy_jobs.group_user",
                                company_id=self.company_a.id, company_ids=[self.company_a.id])
        self.assertRefused(AccessError, self.Job.with_user(someone).cancel, [second.id])
        self.assertRefused(AccessError, self.Job.with_user(self.jobs_user_b).cancel, [second.id])
        self.Job.with_user(self.manager_a).cancel([second.id])
        self.assertEqual(self.states(first | second), ["pending", "cancelled"])
        with self.assertRaises(UserError):
            second.with_user(self.manager_a).action_cancel()  # ended: nothing left to cancel


@tagged("post_install", "-at_install")
class TestFlowOnTheForm(HttpCase):
    def test_an_operator_reads_a_chords_flow_on_the_callbacks_form(self):
        Job = self.env["smart_dairy.job"]
        done, running, callback = Job.dispatch_chord([{"task_name": PING}, {"task_name": PING}], {"task_name": PING})
        done.write({"state": "enqueued", "attempt": 1})
        Job.with_user(self.env.ref("smart_dairy_jobs.user_bridge")).bridge_report(
            [{"uuid": done.uuid, "attempt": 1, "state": "success", "result": '{"pong": true}'}])
        self.assertEqual((running.state, callback.state), ("pending", "waiting"))
        self.start_tour(f"/odoo/action-smart_dairy_jobs.smart_dairy_job_action/{callback.id}",
                        "smart_dairy_jobs_flow_tour", login="admin")
