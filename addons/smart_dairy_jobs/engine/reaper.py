"""The reaper: jobs whose worker fell silent are taken back and sent again (the scheduled action
"Reap stuck jobs" runs it)."""
import logging

from odoo import fields

from celery_bridge.core import errors, jobstate

from . import dependencies, live, writeback

_logger = logging.getLogger(__name__)

BATCH = 1000


def reap_stuck_jobs(Job):
    """Take back jobs whose worker vanished (lease expired) and resend jobs enqueued for too long;
    returns how many jobs were taken back. Also judges again jobs left waiting for dependencies that
    already decided their fate (engine.dependencies.release_stranded)."""
    now = fields.Datetime.now()
    Job = Job.sudo()
    lost = Job.search([("state", "=", jobstate.STARTED), ("lease_expires_at", "<", now)], limit=BATCH)
    if lost:
        _logger.warning("%d started job(s) lost their worker (lease expired)", len(lost))
        # Remembered so that this attempt's success, if its report was only late, still counts.
        for job in lost:
            job.write({"reaped_attempt": job.attempt, "reaped_lease_end": job.lease_expires_at})
        writeback.settle_failures(Job, [
            (job, {"error_type": errors.WORKER_LOST,
                   "error_message": "No heartbeat from %s since %s" % (job.worker_hostname or "the worker",
                                                                       job.lease_expires_at)})
            for job in lost
        ])
    Job.env.cr.execute(
        """
        SELECT job.id FROM smart_dairy_job job
          JOIN smart_dairy_job_task task ON task.id = job.task_type_id
         WHERE job.state = %s
           AND job.date_enqueued < (now() AT TIME ZONE 'UTC') - task.enqueued_timeout * interval '1 second'
         LIMIT %s
        """,
        [jobstate.ENQUEUED, BATCH],
    )
    stale = Job.browse([row[0] for row in Job.env.cr.fetchall()])
    for job in stale:
        job.write({"state": jobstate.RETRY, "eta": now,
                   "attempt_log": writeback.logged(job, outcome="republished", reason="enqueued for too long")})
    if stale:
        _logger.warning("%d job(s) enqueued for too long are sent again", len(stale))
        stale._schedule_publish()
    orphaned = resend_jobs_held_by_silent_workers(Job, now)
    dependencies.release_stranded(Job)
    live.jobs_changed(lost | stale | orphaned)
    return len(lost) + len(stale) + len(orphaned)


def resend_jobs_held_by_silent_workers(Job, now):
    """Send again the enqueued jobs a worker held (prefetched) when it went offline.

    Its messages stay unacknowledged on the broker until the visibility timeout (over an hour):
    sent again now, as a new attempt, they are back in play within the Workers view's offline
    threshold (3 heartbeats) plus the reaper's interval. This never runs a job twice: every
    attempt of a job carries the same claim key (the idempotency key, or job:<uuid>), so if the
    worker was only cut off from Odoo and runs its copy after all, the claim makes one copy
    return the other's result (done) or drop out (running), whichever comes second.
    """
    Job = Job.sudo()
    held = Job.search([("state", "=", jobstate.ENQUEUED), ("held_by_worker", "!=", False)], limit=BATCH)
    held = held.filtered(lambda job: job.held_attempt == job.attempt)
    if not held:
        return held
    online = set(Job.env["smart_dairy.job.worker"].sudo().search([("state", "=", "online")]).mapped("hostname"))
    orphaned = held.filtered(lambda job: job.held_by_worker not in online)
    for job in orphaned:
        job.write({"state": jobstate.RETRY, "eta": now, "held_by_worker": False, "held_attempt": 0,
                   "attempt_log": writeback.logged(job, outcome="republished",
                                                   reason="held by worker %s, which stopped heartbeating"
                                                          % job.held_by_worker)})
    if orphaned:
        _logger.warning("%d job(s) held by silent workers are sent again", len(orphaned))
        orphaned._schedule_publish()
    return orphaned
