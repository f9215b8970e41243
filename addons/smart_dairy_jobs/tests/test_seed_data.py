from celery_bridge.core import routing

from .common import SmartDairyJobsCase


class TestSeedData(SmartDairyJobsCase):
    def test_queues_are_those_of_the_bridge(self):
        queues = self.env["smart_dairy.job.queue"].search([])
        self.assertEqual(
            {(q.name, q.priority, q.sla_seconds) for q in queues},
            {(q.name, q.priority, q.sla_seconds) for q in routing.QUEUES},
        )

    def test_task_types_sit_on_the_queue_their_name_routes_to(self):
        tasks = self.env["smart_dairy.job.task"].with_context(active_test=False).search([])
        self.assertGreaterEqual(len(tasks), 10)
        for task in tasks:
            self.assertEqual(task.queue_id.name, routing.route_for(task.name), task.name)
            self.assertLessEqual(task.soft_time_limit, task.time_limit, task.name)

    def test_spec_limits_per_category(self):
        Task = self.env["smart_dairy.job.task"].with_context(active_test=False)
        payment = Task.search([("name", "=", "smart_dairy.payment.process_payment")])
        report = Task.search([("name", "=", "smart_dairy.report.generate_report")])
        self.assertEqual((payment.time_limit, payment.max_retries, payment.priority), (120, 10, 0))
        self.assertEqual((report.time_limit, report.soft_time_limit, report.max_retries), (3600, 3300, 2))
