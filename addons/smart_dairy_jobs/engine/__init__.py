"""The jobs engine in plain Python, called by the thin smart_dairy.job model (as OCA queue_job keeps
job.py beside its models): dispatch (checks and idempotent creation), outbox (publishing due jobs
with FOR UPDATE SKIP LOCKED), writeback (applying workers' reports in batches) and reaper (taking
back jobs of silent workers). Each function takes the model (its env) or a database name; the
decisions that need no database live in celery_bridge.core (dispatch_rules, report_effects,
jobstate, errors).
"""
from odoo.tools import config

from celery_bridge.core.config import load_settings


def odoo_side_settings():
    """Broker settings for Odoo: environment first, then odoo.conf's [smart_dairy_jobs] section."""
    return load_settings(section=config.misc.get("smart_dairy_jobs", {}))
