from .common import SmartDairyJobsCase
from .helpers import trap_jobs

PING = "smart_dairy.health.ping"


class TestTrapJobs(SmartDairyJobsCase):
    def test_the_trap_shows_what_a_block_dispatched(self):
        self.dispatch_as(self.jobs_user)  # before the trap: not its business
        with trap_jobs(self.env) as trap:
            trap.assert_nothing_dispatched()
            self.dispatch_as(self.jobs_user, priority=2)
            self.Job.with_user(self.jobs_manager).dispatch_many([{"task_name": PING}, {"task_name": PING}])
        [mine] = trap.assert_dispatched(PING, args=[], kwargs={}, user=self.jobs_user)
        self.assertEqual((mine.company, mine.job.priority), (self.env.company, 2))
        trap.assert_dispatched(PING, user=self.jobs_manager, count=2)
        with self.assertRaises(AssertionError):
            trap.assert_dispatched(PING, user=self.sys_admin)

    def test_a_trapped_job_runs_in_process_and_ends_as_on_a_worker(self):
        with trap_jobs(self.env) as trap:
            self.dispatch_as(self.jobs_user)
        [trapped] = trap.jobs
        result = trap.perform(trapped)
        self.assertEqual(result["worker"], "trap_jobs")
        self.assertEqual((trapped.job.state, trapped.job.attempt, trapped.job.worker_hostname),
                         ("success", 1, "trap_jobs"))
        self.assertEqual([outcome["status"] for _report, outcome in trap.reports], ["applied", "applied"])
