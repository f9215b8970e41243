from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import new_test_user

from .common import SmartDairyJobsCase


class TestExternalApi(SmartDairyJobsCase):
    def test_status_of_one_or_many_by_id_or_uuid(self):
        first, second = self.dispatch_as(self.jobs_user), self.dispatch_as(self.jobs_user)
        Job = self.Job.with_user(self.jobs_user)
        self.assertEqual(Job.get_status(first.id)[0]["state"], "pending")
        statuses = Job.get_status([first.id, second.uuid])
        self.assertEqual({s["id"] for s in statuses}, {first.id, second.id})
        self.assertEqual(statuses[0]["uuid"], first.uuid)

    def test_bad_references_are_named(self):
        Job = self.Job.with_user(self.jobs_user)
        with self.assertRaisesRegex(ValidationError, "non-empty list"):
            Job.get_status([])
        with self.assertRaisesRegex(ValidationError, "ids \\(integers\\) or uuids"):
            Job.get_status([1.5])
        with self.assertRaisesRegex(ValidationError, "No job with id 999999999"):
            Job.get_status([999999999])
        with self.assertRaisesRegex(ValidationError, "No job with uuid nope"):
            Job.get_status(["nope"])

    def test_jobs_of_another_company_are_refused(self):
        other = self.env["res.company"].create({"name": "Hill Dairy"})
        outsider = new_test_user(self.env, login="sdj_hill", groups="base.group_user,smart_dairy_jobs.group_user",
                                 company_id=other.id, company_ids=[other.id])
        theirs = self.dispatch_as(outsider)
        with self.assertRaises(AccessError):
            self.Job.with_user(self.jobs_user).get_status([theirs.id])
        with self.assertRaises(AccessError):
            self.Job.with_user(self.jobs_user).cancel([theirs.id])
        self.assertEqual(theirs.state, "pending")

    def test_cancel_and_requeue(self):
        job = self.dispatch_as(self.jobs_user)
        self.assertEqual(self.Job.with_user(self.jobs_user).cancel([job.uuid]), [job.id])
        self.assertEqual(job.state, "cancelled")
        failed = self.dispatch_as(self.sys_admin, "smart_dairy.health.fail")
        failed.sudo().write({"state": "enqueued", "attempt": 1})
        self.report({"uuid": failed.uuid, "attempt": 1, "state": "failure", "error_type": "validation"})
        DeadLetter = self.env["smart_dairy.job.dead.letter"]
        listed = DeadLetter.with_user(self.jobs_user).list_dead_letters()
        self.assertIn(failed.id, [row["job_id"][0] for row in listed])
        entry = failed.dead_letter_ids
        with self.assertRaises(AccessError):
            DeadLetter.with_user(self.jobs_user).requeue([entry.id])
        with self.assertRaisesRegex(AccessError, "may not start smart_dairy.health.fail"):
            DeadLetter.with_user(self.jobs_manager).requeue([entry.id])  # a diagnostic: administrators only
        new_ids = DeadLetter.with_user(self.sys_admin).requeue([entry.id])
        self.assertEqual(new_ids, [entry.requeued_job_id.id])
        with self.assertRaisesRegex(UserError, "state must be one of"):
            DeadLetter.with_user(self.jobs_user).list_dead_letters(state="lost")
        with self.assertRaisesRegex(UserError, "No dead letter with id"):
            DeadLetter.with_user(self.jobs_manager).requeue([999999999])
