"""Live updates over Odoo's bus: the job form, the queue dashboard and the worker list change as
jobs, queues and workers do, without polling.

Who hears what. A websocket of a logged-in user listens on their partner, on each of their groups
and on whatever *string* channels the client asks for (anyone may ask for any string: a string
channel is no secret). Record channels are added by the server only (ir.websocket
``_build_bus_channel_list``); here, one per company a Jobs user may work in (``bus_channels``).
- Jobs, and queues of one company, are told on that company's channel: only Jobs users of that
  company hear of them, as record rules let only them read those jobs and queues.
- Shared queues (no company) and workers (no company, readable by every Jobs user) are told on the
  Jobs user group's channel, which only its members (internal users; Jobs managers imply it) hear.
A notification carries ids only (celery_bridge.core.live_updates); the browser reads the records
again through the ORM. Changes of one transaction are told once, when it commits (precommit:
nothing is told of what is rolled back), at most once a second per target.
"""
from collections import defaultdict
from datetime import timedelta

from celery_bridge.core import live_updates

CHANGED = "smart_dairy_jobs/changed"
COMPANY_SUBCHANNEL = "smart_dairy_jobs"
INTERVAL_PARAM = "smart_dairy_jobs.live_update_interval"
PRECOMMIT_KEY = "smart_dairy_jobs.live_changes"
# Worker fields the Workers list shows that a heartbeat may change (besides online/offline).
LISTED_WORKER_FIELDS = ("queues", "pool_type", "concurrency", "active_tasks", "heartbeat_interval")

THROTTLE = live_updates.NotificationThrottle()


def company_channel(company):
    return (company, COMPANY_SUBCHANNEL)


def bus_channels(user):
    """The channels a user's websocket adds for live updates: one per company they may switch to,
    for Jobs users only (the Jobs user group's channel comes with their groups)."""
    if not user._is_internal() or not user.has_group("smart_dairy_jobs.group_user"):
        return []
    return [company_channel(company) for company in user.company_ids]


def jobs_changed(jobs):
    """Tell, when the transaction commits, that these jobs (and so their queues) changed."""
    _note(jobs.env, "job_ids", jobs.ids)


def queues_changed(queues):
    _note(queues.env, "queue_ids", queues.ids)


def workers_changed(workers):
    _note(workers.env, "worker_ids", workers.ids)


def _note(env, kind, ids):
    if not ids:
        return
    cr = env.cr
    pending = cr.precommit.data.get(PRECOMMIT_KEY)
    if pending is None:
        pending = cr.precommit.data[PRECOMMIT_KEY] = {name: set() for name in live_updates.KINDS}
        cr.precommit.add(lambda: send(env, cr.precommit.data.pop(PRECOMMIT_KEY)))
    pending[kind].update(ids)


def send(env, pending):
    """One notification per target for a transaction's changes (``pending``: ids by kind), unless
    the throttle holds it for the next one."""
    # sudo: only to find each record's company; what goes out is ids, each to those who may read them.
    env = env(su=True)
    changes_by_target = defaultdict(lambda: defaultdict(set))
    jobs = env["smart_dairy.job"].browse(pending["job_ids"]).exists()
    for job in jobs.filtered("company_id"):
        changes_by_target[company_channel(job.company_id)]["job_ids"].add(job.id)
    group = env.ref("smart_dairy_jobs.group_user")
    for queue in env["smart_dairy.job.queue"].browse(pending["queue_ids"]).exists() | jobs.queue_id:
        target = company_channel(queue.company_id) if queue.company_id else group
        changes_by_target[target]["queue_ids"].add(queue.id)
    if pending["worker_ids"]:
        changes_by_target[group]["worker_ids"].update(pending["worker_ids"])
    interval = live_updates.interval_setting(env["ir.config_parameter"].get_param(INTERVAL_PARAM))
    for target, changes in changes_by_target.items():
        payload = THROTTLE.offer(throttle_key(env, target), changes, interval)
        if payload is not None:
            if isinstance(target, tuple):
                payload["company_id"] = target[0].id
            env["bus.bus"]._sendone(target, CHANGED, payload)


def throttle_key(env, target):
    record = target[0] if isinstance(target, tuple) else target
    return (env.cr.dbname, record._name, record.id)


def heartbeat_changes(worker, vals, offline_after_beats):
    """Workers whose row in the Workers list a heartbeat changes: the beating ``worker`` (as it was
    before ``vals`` are written; empty when new, the caller adds it once created) when back online
    or showing other values, and the workers that fell silent since its previous beat (no event
    marks a worker going offline: its silence does; the others' heartbeats notice it)."""
    now = vals["last_heartbeat"]
    online = bool(worker) and worker.state == "online"
    changed = worker if worker and (not online or any(
        (worker[name] or False) != (vals[name] or False) for name in LISTED_WORKER_FIELDS)) else worker.browse()
    # Since its previous beat; one beat back for a worker new or back online.
    since = worker.last_heartbeat if online else now - timedelta(seconds=vals["heartbeat_interval"])
    worker.flush_model(["last_heartbeat", "heartbeat_interval"])
    worker.env.cr.execute(
        """SELECT id FROM smart_dairy_job_worker
            WHERE id != %(me)s
              AND last_heartbeat + make_interval(secs => %(beats)s * COALESCE(heartbeat_interval, 10))
                  BETWEEN %(since)s AND %(now)s""",
        {"me": worker.id or 0, "beats": offline_after_beats, "since": since, "now": now},
    )
    return changed | worker.browse([row[0] for row in worker.env.cr.fetchall()])
