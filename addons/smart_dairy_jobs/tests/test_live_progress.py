import json

from odoo.tests import new_test_user

from .common import SmartDairyJobsCase

NOTIFICATION = "smart_dairy_jobs/job_progress"


class TestLiveProgress(SmartDairyJobsCase):
    """The write-back tells the users whose jobs moved, over the bus: one notification per user and batch."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.other_user = new_test_user(
            cls.env, login="sdj_other", groups="base.group_user,smart_dairy_jobs.group_user", name="Other Jobs User"
        )

    def setUp(self):
        super().setUp()
        self.first, self.second = self.dispatch_as(self.jobs_user), self.dispatch_as(self.jobs_user)
        self.others = self.dispatch_as(self.other_user)
        for job in self.first | self.second | self.others:
            self.mark_enqueued(job)
        self.flush_bus()

    def flush_bus(self):
        """Create the bus rows the transaction has queued (as its commit would); the newest id before."""
        self.env.cr.precommit.run()
        return self.env["bus.bus"].sudo().search([], order="id desc", limit=1).id or 0

    def sent_since(self, last_id):
        """(partner id, payload) of each job progress notification queued since ``last_id``."""
        self.flush_bus()
        sent = []
        for row in self.env["bus.bus"].sudo().search([("id", ">", last_id)], order="id"):
            message = json.loads(row.message)
            if message["type"] != NOTIFICATION:
                continue
            dbname, model, partner_id = json.loads(row.channel)
            self.assertEqual((dbname, model), (self.env.cr.dbname, "res.partner"))
            sent.append((partner_id, message["payload"]))
        return sent

    def started(self, job):
        return {"uuid": job.uuid, "attempt": 1, "state": "started", "at": "2026-11-21 08:00:00.250000",
                "worker": "w1@host"}

    def progress(self, job, percent, message):
        return {"uuid": job.uuid, "attempt": 1, "state": "progress", "progress": percent,
                "progress_message": message}

    def expected(self, job):
        return {"id": job.id, "uuid": job.uuid, "state": job.state, "progress": job.progress,
                "progress_message": job.progress_message}

    def test_one_notification_per_user_and_batch_to_that_user_only(self):
        last = self.flush_bus()
        self.report(self.started(self.first), self.progress(self.first, 40, "40 of 100 cows"),
                    self.started(self.second), self.started(self.others))
        sent = self.sent_since(last)
        self.assertEqual(sorted(partner for partner, _payload in sent),
                         sorted([self.jobs_user.partner_id.id, self.other_user.partner_id.id]))
        payloads = dict(sent)
        mine = payloads[self.jobs_user.partner_id.id]["jobs"]
        self.assertEqual(sorted(mine, key=lambda entry: entry["id"]),
                         [self.expected(self.first), self.expected(self.second)])
        self.assertEqual(self.expected(self.first),
                         {"id": self.first.id, "uuid": self.first.uuid, "state": "started", "progress": 40,
                          "progress_message": "40 of 100 cows"})
        self.assertEqual(payloads[self.other_user.partner_id.id]["jobs"], [self.expected(self.others)],
                         "a user hears only of their own jobs")

    def test_the_final_state_is_told(self):
        self.report(self.started(self.first))
        last = self.flush_bus()
        self.report({"uuid": self.first.uuid, "attempt": 1, "state": "success", "at": "2026-11-21 08:00:01.500000",
                     "result": json.dumps({"pong": True}), "runtime": 1.25})
        self.assertEqual(self.sent_since(last), [(self.jobs_user.partner_id.id, {"jobs": [
            {"id": self.first.id, "uuid": self.first.uuid, "state": "success", "progress": 100,
             "progress_message": False}]})])

    def test_a_failure_going_to_retry_is_told(self):
        self.report(self.started(self.first))
        last = self.flush_bus()
        self.report({"uuid": self.first.uuid, "attempt": 1, "state": "failure", "error_type": "network_timeout",
                     "error_message": "timed out", "at": "2026-11-21 08:00:01.500000"})
        self.assertIn(self.first.state, ("retry", "failure"))
        self.assertEqual(self.sent_since(last), [(self.jobs_user.partner_id.id, {"jobs": [self.expected(self.first)]})])

    def test_heartbeats_ignored_and_invalid_reports_tell_nobody(self):
        self.report(self.started(self.first))
        last = self.flush_bus()
        self.report({"uuid": self.first.uuid, "attempt": 1, "state": "heartbeat"},
                    self.started(self.first),  # a repeat: ignored
                    {"uuid": self.others.uuid, "attempt": 7, "state": "success", "result": "1"},  # stale attempt
                    {"uuid": self.second.uuid, "attempt": 1, "state": "progress", "progress": 150})  # invalid
        self.assertEqual(self.sent_since(last), [])

    def test_a_chunk_ending_tells_of_its_parent_too(self):
        parent = self.second
        parent.sudo().write({"is_parent": True, "chunk_count": 2, "state": "started"})
        self.first.sudo().write({"parent_id": parent.id})
        self.report(self.started(self.first))
        last = self.flush_bus()
        self.report({"uuid": self.first.uuid, "attempt": 1, "state": "success", "at": "2026-11-21 08:00:01.500000",
                     "result": "1", "runtime": 0.5})
        [(partner, payload)] = self.sent_since(last)
        self.assertEqual(partner, self.jobs_user.partner_id.id)
        told = {entry["id"]: entry for entry in payload["jobs"]}
        self.assertEqual(set(told), {self.first.id, parent.id})
        self.assertEqual(told[parent.id], self.expected(parent))
        self.assertEqual((told[parent.id]["state"], told[parent.id]["progress"]), ("started", 50))
