from odoo.tests import TransactionCase, new_test_user


class SmartDairyJobsCase(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Job = cls.env["smart_dairy.job"]
        cls.jobs_user = new_test_user(
            cls.env, login="sdj_user", groups="base.group_user,smart_dairy_jobs.group_user", name="Jobs User"
        )
        cls.jobs_manager = new_test_user(
            cls.env, login="sdj_manager", groups="base.group_user,smart_dairy_jobs.group_manager", name="Jobs Manager"
        )
        # Diagnostics that fail, sleep or touch files are for system administrators (the task types'
        # May Dispatch groups); this one is also a Jobs manager, to handle what they leave behind.
        cls.sys_admin = new_test_user(
            cls.env, login="sdj_sysadmin", name="System Admin",
            groups="base.group_user,base.group_system,smart_dairy_jobs.group_manager",
        )
        cls.bridge = cls.env.ref("smart_dairy_jobs.user_bridge")

    def dispatch_as(self, user, task_name="smart_dairy.health.ping", **options):
        return self.Job.with_user(user).dispatch(task_name, **options)

    def report(self, *reports):
        return self.Job.with_user(self.bridge).bridge_report(list(reports))

    def mark_enqueued(self, job, attempt=1):
        # What the publisher does after the broker took the message.
        job.sudo().write({"state": "enqueued", "attempt": attempt})
