"""Issue 19: the bulk mailing's task type only groups its batches; no worker implements it. Dispatched
alone it used to be accepted and then fail on the worker as an unknown task: it is refused at
dispatch, with nothing written, and still names the parent of send_bulk_emails."""
from odoo.exceptions import ValidationError

from .common import OperationsCase

BULK = "smart_dairy.email.send_bulk_emails"


class TestBulkMailingParent(OperationsCase):
    def counts(self):
        self.env.flush_all()
        return self.Job.sudo().with_context(active_test=False).search_count([])

    def test_the_bulk_mailing_type_is_refused_alone_and_kept_as_the_parent(self):
        self.assertTrue(self.env.ref("smart_dairy_operations.task_email_send_bulk_emails").parent_only)
        Job = self.Job.with_user(self.clerk)
        before = self.counts()
        for call in (lambda: Job.dispatch(BULK, kwargs={"subject": "s", "body_html": "b"}),
                     lambda: Job.dispatch_many([{"task_name": BULK}]),
                     lambda: Job.dispatch_chunked(BULK, ["a@farm.example"])):
            with self.assertRaisesRegex(ValidationError, "only groups chunks, no worker runs it"):
                call()
            self.assertEqual(self.counts(), before)
        parent = self.env["smart_dairy.notification"].with_user(self.clerk).send_bulk_emails(
            ["a@farm.example", "b@farm.example"], subject="s", body_html="<p>b</p>")
        self.assertEqual((parent.task_name, parent.sudo().child_ids.mapped("task_name")),
                         (BULK, ["smart_dairy.email.send_email_batch"]))
