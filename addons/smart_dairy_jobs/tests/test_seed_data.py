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
