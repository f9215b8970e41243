"""Issue 19: the bulk mailing's task type only groups its batches (no worker runs it), so dispatching it
other than as the parent of dispatch_chunked is refused; existing databases get the flag too, unless
someone changed it (see smart_dairy_jobs' engine/seed_updates)."""
from odoo.addons.smart_dairy_jobs.engine.seed_updates import update_unchanged


def migrate(cr, version):
    update_unchanged(cr, "smart_dairy_operations", {"task_email_send_bulk_emails": {"parent_only": (False, True)}})
