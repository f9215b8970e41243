from datetime import timedelta

from odoo import fields
from odoo.exceptions import ValidationError

from .common import SmartDairyJobsCase


class TestIdempotentDispatch(SmartDairyJobsCase):
    def test_same_key_returns_the_same_job(self):
        fail = "smart_dairy.health.fail"
        first = self.dispatch_as(self.sys_admin, fail, idempotency_key="milk-order-42", kwargs={"message": "a"})
        second = self.dispatch_as(self.sys_admin, fail, idempotency_key="milk-order-42", kwargs={"message": "b"})
        self.assertEqual(first, second)
        # Keys live inside the company and the task (see test_trust for other companies).
        self.assertEqual(first.idempotency_key, f"company-{first.company_id.id}:{fail}:all:milk-order-42")

    def test_derived_key_follows_the_arguments(self):
        def dispatch(**kwargs):
            return self.dispatch_as(self.sys_admin, "smart_dairy.health.fail", idempotent=True, kwargs=kwargs)
        first = dispatch(a="1", b="2")
        self.assertEqual(first, dispatch(b="2", a="1"))
        self.assertNotEqual(first, dispatch(a="2"))

    def test_user_scope_keeps_users_apart(self):
        mine = self.dispatch_as(self.jobs_user, idempotency_key="k", idempotency_scope="user")
        theirs = self.dispatch_as(self.jobs_manager, idempotency_key="k", idempotency_scope="user")
        self.assertNotEqual(mine, theirs)

    def test_task_type_default_makes_every_dispatch_idempotent(self):
        self.env.ref("smart_dairy_jobs.task_health_ping").idempotency = "company"
        first = self.dispatch_as(self.jobs_user)
        self.assertTrue(first.idempotency_key.startswith("company-"))
        self.assertEqual(first, self.dispatch_as(self.jobs_user))
        self.assertNotEqual(first, self.dispatch_as(self.jobs_user, idempotent=False))

    def test_an_expired_key_is_free_again(self):
        first = self.dispatch_as(self.jobs_user, idempotency_key="daily")
        # An hour, not a second: the expiry is judged against PostgreSQL's now(), the start of the test's
        # transaction, which a loaded machine may have opened seconds before this line runs.
        first.sudo().idempotency_expires_at = fields.Datetime.now() - timedelta(hours=1)
        second = self.dispatch_as(self.jobs_user, idempotency_key="daily")
        self.assertNotEqual(first, second)
        self.assertFalse(first.idempotency_key)

    def test_bad_keys_and_scopes_are_refused(self):
        with self.assertRaisesRegex(ValidationError, "idempotency scope must be one of"):
            self.dispatch_as(self.jobs_user, idempotency_key="k", idempotency_scope="planet")
        with self.assertRaisesRegex(ValidationError, "idempotency_key must be a non-empty string"):
            self.dispatch_as(self.jobs_user, idempotency_key="  ")
