"""The questions a worker may ask Odoo, by name: the methods of the ``smart_dairy.job.bridge`` model
(addons/smart_dairy_jobs/models/smart_dairy_job_bridge.py, extended by the business addons), each
checking the bridge group's rights. Everything a worker *tells* Odoo goes through the report spool
instead (celery_bridge.core.worker_reports); this list is what ``OdooClient.ask`` may call, and nothing else.
"""
BRIDGE_MODEL = "smart_dairy.job.bridge"

QUESTIONS = frozenset({
    "bridge_heartbeat",  # smart_dairy_jobs: a worker's pulse; answers the paused queues
    "cleanup_batch",  # smart_dairy_jobs: delete one batch of old jobs or dead letters
    "notify_critical",  # smart_dairy_iot: tell the IoT managers of open critical alerts
    "daily_report_recipients",  # smart_dairy_operations: where the daily report goes
})
