"""Issue 19: the task types' retry policy as B-009 §2.2 has it (60 s retry delay instead of 2 s), for the
task types this addon seeded that still hold the values first shipped (see engine/seed_updates)."""
from odoo.addons.smart_dairy_jobs.engine.seed_updates import update_unchanged

SPEC_DELAY = {"retry_backoff_base": (2.0, 60.0)}
CHANGES = {
    name: SPEC_DELAY for name in (
        "task_health_ping", "task_health_fail", "task_health_sleep", "task_health_expect_file", "task_health_touch",
        "task_maintenance_cleanup_old_data", "task_maintenance_backup_database", "task_sync_sync_inventory",
        "task_image_process_image", "task_report_generate_monthly_invoices",
    )
}
# Payment Processing, B-009 §3.1/§3.2: 10 retries, backing off from 30 s.
CHANGES["task_payment_check_upcoming_renewals"] = {"max_retries": (3, 10), "retry_backoff_base": (2.0, 30.0)}


def migrate(cr, version):
    update_unchanged(cr, "smart_dairy_jobs", CHANGES)
