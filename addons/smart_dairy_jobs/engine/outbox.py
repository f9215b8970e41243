"""The outbox: jobs recorded in Odoo go to the broker after commit, or from the sweeper.

Rows are locked (FOR UPDATE SKIP LOCKED) while their messages go out, so the after-commit path and
the sweeper never send the same attempt twice.
"""
import json
import logging
import time

from odoo import SUPERUSER_ID, api, fields
from odoo.modules.registry import Registry

from celery_bridge.broker import producer
from celery_bridge.core import external_services, jobstate

from . import dependencies, live, odoo_side_settings

_logger = logging.getLogger(__name__)

PUBLISH_BATCH = 500
POSTCOMMIT_KEY = "smart_dairy_jobs.publish_ids"


def schedule_publish(jobs):
    """Jobs due now go out right after commit; later ones get a queue_job sweep at their time."""
    # Due means due now: the publisher sends nothing whose time has not come, so anything
    # later, even by a second, needs its timed sweep.
    now = fields.Datetime.now()
    jobs = jobs.filtered(lambda job: job.state in jobstate.PUBLISHABLE)  # not jobs waiting for others
    due = jobs.filtered(lambda job: not job.eta or job.eta <= now)
    if due:
        publish_after_commit(jobs.env.cr, due.ids)
    for eta in sorted(set((jobs - due).mapped("eta"))):
        jobs.with_delay(
            eta=eta,
            description="Send background jobs planned for %s" % eta,
            identity_key="smart_dairy_jobs.sweep.%s" % eta.isoformat(),
        )._sweep_due()


def publish_after_commit(cr, job_ids):
    ids = cr.postcommit.data.get(POSTCOMMIT_KEY)
    if ids is None:
        ids = cr.postcommit.data[POSTCOMMIT_KEY] = set()
        dbname = cr.dbname

        # Still on the request, after its commit, but bounded by one deadline for the whole
        # publish (every batch, the retry on a fresh connection): with the broker up the caller
        # gets its job already `enqueued`, as today; with it away the request waits at most
        # PUBLISH_TIMEOUT, never the connect attempts stacked up. A background thread would
        # not wait at all, but it dies with a recycled worker process and sends out of sight of
        # the request; the sweeper already is the safety net for whatever the deadline leaves.
        @cr.postcommit.add
        def publish():
            try:
                deadline = time.monotonic() + odoo_side_settings().publish_timeout
                publish_ready(dbname, ids=sorted(ids), deadline=deadline)
            except Exception:
                # The jobs are committed and stay pending: the sweeper sends them.
                _logger.exception("Publishing %d job(s) after commit failed", len(ids))

    ids.update(job_ids)


def publish_ready(dbname, ids=None, deadline=None):
    """Send due jobs (all of them, or those of ``ids``) to the broker; return how many were sent.

    ``deadline`` (a ``time.monotonic()`` value) bounds the whole wait for the broker; without
    it, each batch waits up to PUBLISH_TIMEOUT. Runs in its own transaction.
    """
    settings = odoo_side_settings()
    publishable = list(jobstate.PUBLISHABLE)
    total = 0
    with Registry(dbname).cursor() as cr:
        while True:
            cr.execute(
                """
                SELECT job.id, job.uuid, job.task_name, queue.name, job.priority, job.args_json,
                       job.kwargs_json, job.attempt, task.soft_time_limit, task.time_limit,
                       job.idempotency_key, task.idempotency_ttl, task.lease_seconds, task.external_service,
                       job.company_id, job.user_id,
                       -- the task type's compression, or its job's queue's: gzip or NULL
                       NULLIF(COALESCE(NULLIF(task.compression, 'queue'), queue.compression), 'none')
                  FROM smart_dairy_job job
                  JOIN smart_dairy_job_queue queue ON queue.id = job.queue_id
                  JOIN smart_dairy_job_task task ON task.id = job.task_type_id
                 WHERE job.state = ANY(%s)
                   AND NOT COALESCE(queue.paused, FALSE)
                   AND (job.eta IS NULL OR job.eta <= now() AT TIME ZONE 'UTC')
                   AND (%s::int[] IS NULL OR job.id = ANY(%s))
                 ORDER BY job.priority, job.id
                 LIMIT %s
                   FOR UPDATE OF job SKIP LOCKED
                """,
                [publishable, ids, ids, PUBLISH_BATCH],
            )
            rows = cr.fetchall()
            if not rows:
                break
            results = dependencies.results_by_job(cr, [row[0] for row in rows])
            messages = [
                producer.Outgoing(
                    uuid=row[1], task_name=row[2], queue=row[3], priority=row[4],
                    args=json.loads(row[5] or "[]"), kwargs=json.loads(row[6] or "{}"),
                    attempt=row[7] + 1, soft_time_limit=row[8], time_limit=row[9],
                    key=row[10], key_ttl=row[11], lease=row[12],
                    service=external_services.resolve_json(row[13], row[2], row[5], row[6]),
                    company_id=row[14], user_id=row[15], compression=row[16],
                    dependency_results=results.get(row[0]),
                )
                for row in rows
            ]
            sent = producer.publish(settings, messages, deadline=deadline)
            if sent:
                cr.execute(
                    """
                    UPDATE smart_dairy_job
                       SET state = %s, attempt = attempt + 1,
                           date_enqueued = now() AT TIME ZONE 'UTC', write_date = now() AT TIME ZONE 'UTC'
                     WHERE uuid = ANY(%s)
                    """,
                    [jobstate.ENQUEUED, sent],
                )
                published = set(sent)
                live.jobs_changed(api.Environment(cr, SUPERUSER_ID, {})["smart_dairy.job"].browse(
                    [row[0] for row in rows if row[1] in published]))
            # Our own cursor: commit what reached the broker before the next batch goes out.
            cr.commit()  # pylint: disable=invalid-commit
            total += len(sent)
            if len(sent) < len(rows):
                break
    return total
