"""Job flows in Odoo: the dependencies a dispatch asks for, checked; the jobs waiting for others judged
again (released, cancelled, or — a chunked job's parent — settled) in the very transaction that ends one
of their dependencies; their dependencies' results read for the outbox; the flow drawn for a job's form.

The decisions are celery_bridge.core.flows'; this module reads and writes the database for them, a
batch at a time: one statement finds and locks the dependents of every job that just ended, one reads
the states of all their dependencies.
"""
import logging

from odoo import Command, fields
from odoo.exceptions import ValidationError

from celery_bridge.core import dispatch_rules, flows, jobstate, limits

from . import live

_logger = logging.getLogger(__name__)

# The many2many of smart_dairy.job to itself: job_id waits for depends_on_id.
RELATION = "smart_dairy_job_dependency_rel"
# Jobs whose dependents a release under way in this transaction still has to judge (see release_dependents).
RELEASE_QUEUE_KEY = "smart_dairy_jobs.release_queue"
STRANDED_BATCH = 1000
# The flow drawn on a job's form: jobs at most this many links away, and at most this many jobs.
GRAPH_MAX_DEPTH = 8
GRAPH_MAX_NODES = 120


# ---------------------------------------------------------------------- dispatch

def dispatch_vals(Job, options):
    """The dependency values of a new job (engine.dispatch.prepare): ``depends_on`` (job ids the caller
    may read, of the company the job is dispatched in) and ``on_dependency_failure``. Its state is
    waiting, or pending when every dependency already succeeded. Raises before anything is written."""
    env = Job.env
    if options.get("depends_on") in (None, False) and options.get("on_dependency_failure") in (None, False):
        return {}
    try:
        ids, rule = dispatch_rules.dependency_request(options.get("depends_on"), options.get("on_dependency_failure"))
    except dispatch_rules.DispatchRefused as exc:
        raise ValidationError(str(exc)) from None
    vals = {"on_dependency_failure": rule}
    if not ids:
        return vals
    dependencies = Job.browse(ids)
    missing = set(ids) - set(dependencies.exists().ids)
    if missing:
        raise ValidationError(env._("No job with id %(ids)s to depend on.", ids=", ".join(map(str, sorted(missing)))))
    dependencies.check_access("read")
    # sudo: the caller may read them (checked just above); company and state are read to judge.
    dependencies = dependencies.sudo()
    foreign = dependencies.filtered(lambda job: job.company_id != env.company)
    if foreign:
        raise ValidationError(env._(
            "A job depends only on jobs of its own company (%(company)s): %(jobs)s belong to another.",
            company=env.company.name, jobs=", ".join(foreign.mapped("display_name"))))
    try:
        state = dispatch_rules.initial_state([(job.id, job.state) for job in dependencies], rule)
    except dispatch_rules.DispatchRefused as exc:
        raise ValidationError(str(exc)) from None
    vals.update(depends_on_ids=[Command.set(ids)], state=state)
    return vals


def link(Job, pairs):
    """Make job ``dependent`` wait for job ``dependency`` for each (dependent id, dependency id) of ``pairs``:
    the links of jobs created together (a chain's steps, a chord's callback, a chunked job's parent)."""
    pairs = list(pairs)
    if not pairs:
        return
    Job.env.cr.execute(
        f"""INSERT INTO {RELATION} (job_id, depends_on_id)
            SELECT * FROM unnest(%s::int[], %s::int[]) ON CONFLICT DO NOTHING""",
        [[dependent for dependent, _dependency in pairs], [dependency for _dependent, dependency in pairs]],
    )
    Job.invalidate_model(["depends_on_ids", "dependent_ids"])


def hand_over(original, new_job):
    """A requeued job stands in for the failed one it re-runs: the jobs still waiting for the original
    (rule "wait") now wait for the new job, and go on when it succeeds."""
    cr = original.env.cr
    original.env.flush_all()
    cr.execute(
        f"""UPDATE {RELATION} rel SET depends_on_id = %s
             WHERE rel.depends_on_id = %s
               AND EXISTS (SELECT 1 FROM smart_dairy_job job WHERE job.id = rel.job_id AND job.state = %s)
               AND NOT EXISTS (SELECT 1 FROM {RELATION} other
                                WHERE other.job_id = rel.job_id AND other.depends_on_id = %s)""",
        [new_job.id, original.id, jobstate.WAITING, new_job.id],
    )
    if cr.rowcount:
        original.invalidate_model(["depends_on_ids", "dependent_ids"])
    return cr.rowcount


# ---------------------------------------------------------------------- release

def release_dependents(ended):
    """Judge again the jobs that wait for ``ended`` (jobs that just ended: succeeded, failed for good,
    cancelled, settled), then the dependents of those that end in turn (cancelled, settled parents), level
    by level, until nothing more moves — all in the current transaction.

    ``_on_finished`` of every job ending here runs as for any other; if it ends jobs itself, their
    dependents join the release under way instead of starting one inside it (no recursion, however long
    the chain).
    """
    data = ended.env.cr.precommit.data
    queue = data.get(RELEASE_QUEUE_KEY)
    if queue is not None:
        queue.update(ended.ids)
        return
    data[RELEASE_QUEUE_KEY] = queue = set(ended.ids)
    Job = ended.sudo()
    try:
        while queue:
            ids = sorted(queue)
            queue.clear()
            newly_ended = rejudge(Job.browse(dependents_of(Job, ids)))
            if newly_ended:
                newly_ended._on_finished()
    finally:
        data.pop(RELEASE_QUEUE_KEY, None)


def dependents_of(Job, ids):
    """Ids of the jobs that wait for any of ``ids`` (waiting jobs, and chunked jobs' parents not yet settled)."""
    Job.env.flush_all()
    Job.env.cr.execute(
        f"""SELECT DISTINCT rel.job_id FROM {RELATION} rel
              JOIN smart_dairy_job job ON job.id = rel.job_id
             WHERE rel.depends_on_id = ANY(%s)
               AND (job.state = %s OR (job.is_parent AND job.state <> ALL(%s)))""",
        [list(ids), jobstate.WAITING, list(jobstate.TERMINAL)],
    )
    return [row[0] for row in Job.env.cr.fetchall()]


def rejudge(dependents):
    """Judge ``dependents`` (sudo) by the states of all their dependencies and apply the verdicts;
    returns the jobs that ended (cancelled, settled parents), whose own dependents come next.

    Each dependent is locked and touched first: two transactions ending two dependencies of one job at
    the same time then meet on its row, and the later one is retried (a serialization failure, which
    Odoo retries) and sees both ends, instead of each judging the job with the other's end unseen.
    """
    Job = dependents.sudo()
    if not Job:
        return Job
    env, cr = Job.env, Job.env.cr
    env.flush_all()
    cr.execute("""SELECT id FROM smart_dairy_job WHERE id = ANY(%s) AND state <> ALL(%s)
                  ORDER BY id FOR NO KEY UPDATE""", [Job.ids, list(jobstate.TERMINAL)])
    locked = [row[0] for row in cr.fetchall()]
    if not locked:
        return Job.browse()
    cr.execute("UPDATE smart_dairy_job SET write_date = now() AT TIME ZONE 'UTC' WHERE id = ANY(%s)", [locked])
    cr.execute(
        f"""SELECT rel.job_id, array_agg(dep.id ORDER BY dep.id), array_agg(dep.state ORDER BY dep.id)
              FROM {RELATION} rel JOIN smart_dairy_job dep ON dep.id = rel.depends_on_id
             WHERE rel.job_id = ANY(%s) GROUP BY rel.job_id""",
        [locked],
    )
    dependencies = {row[0]: list(zip(row[1], row[2])) for row in cr.fetchall()}
    jobs = Job.browse(locked)
    jobs.invalidate_recordset(["write_date"])
    released = ended = Job.browse()
    now = fields.Datetime.now()
    for job in jobs:
        deps = dependencies.get(job.id, [])
        judgement = flows.judge_dependent(job.state, [state for _id, state in deps], job.on_dependency_failure,
                                          aggregate=job.is_parent, expected=job.chunk_count)
        if judgement.decision == flows.RELEASE:
            released |= job
        elif judgement.decision == flows.CANCEL:
            culprit_id, culprit_state = deps[judgement.culprit]
            job.write({"state": jobstate.CANCELLED, "date_done": now, "error_message": env._(
                "Cancelled: job #%(job)s, which it waited for, ended in %(state)s.",
                job=culprit_id, state=dict(jobstate.STATES)[culprit_state].lower())})
            ended |= job
        elif job.is_parent and judgement.decision in (flows.SUCCEED, flows.FAIL, flows.KEEP_WAITING):
            job.write(job._chunk_settlement_vals(judgement))
            if judgement.decision != flows.KEEP_WAITING:
                ended |= job
    if released:
        released.write({"state": jobstate.PENDING, "date_released": now})
        released._schedule_publish()
    live.jobs_changed(released | ended | jobs.filtered("is_parent"))
    return ended


def release_stranded(Job):
    """The safety net, run by the reaper: jobs still waiting although their dependencies decide their fate
    (a dependency that ended while the job was being dispatched, in a transaction that could not see it)
    are judged again. Returns how many moved."""
    Job = Job.sudo()
    Job.env.flush_all()
    Job.env.cr.execute(
        f"""SELECT job.id FROM smart_dairy_job job
              JOIN {RELATION} rel ON rel.job_id = job.id
              JOIN smart_dairy_job dep ON dep.id = rel.depends_on_id
             WHERE job.state = %(waiting)s OR (job.is_parent AND job.state <> ALL(%(terminal)s))
             GROUP BY job.id
            HAVING (job.state = %(waiting)s AND bool_and(dep.state = %(success)s))
                OR (job.state = %(waiting)s AND job.on_dependency_failure = %(cancel)s
                    AND bool_or(dep.state = ANY(%(failed)s)))
                OR (job.is_parent AND bool_and(dep.state = ANY(%(terminal)s)) AND count(*) >= job.chunk_count)
             ORDER BY job.id LIMIT %(limit)s""",
        {"waiting": jobstate.WAITING, "terminal": list(jobstate.TERMINAL), "success": jobstate.SUCCESS,
         "cancel": flows.ON_FAILURE_CANCEL, "failed": list(flows.FAILED), "limit": STRANDED_BATCH},
    )
    stranded = Job.browse([row[0] for row in Job.env.cr.fetchall()])
    if not stranded:
        return 0
    _logger.warning("%d job(s) waiting for dependencies that had already decided their fate are judged again",
                    len(stranded))
    states_before = dict(zip(stranded.ids, stranded.mapped("state")))
    ended = rejudge(stranded)
    if ended:
        ended._on_finished()
    stranded.invalidate_recordset(["state"])
    return sum(1 for job in stranded if job.state != states_before[job.id])


# ---------------------------------------------------------------------- results

def results_by_job(cr, job_ids, budget=limits.MAX_DEPENDENCY_RESULTS_SIZE):
    """{job id: its dependencies' results as its task receives them} for those of ``job_ids`` that waited
    for others (celery_bridge.core.flows.dependency_results). One query; a result larger than the whole
    budget is not even read."""
    if not job_ids:
        return {}
    cr.execute(
        f"""SELECT rel.job_id, dep.id, dep.uuid, dep.task_name, COALESCE(length(dep.result_json), 4),
                   CASE WHEN COALESCE(length(dep.result_json), 4) <= %s THEN COALESCE(dep.result_json, 'null') END
              FROM {RELATION} rel JOIN smart_dairy_job dep ON dep.id = rel.depends_on_id
             WHERE rel.job_id = ANY(%s)
             ORDER BY rel.job_id, dep.id""",
        [budget, list(job_ids)],
    )
    grouped = {}
    for job_id, dep_id, uuid, task_name, size, text in cr.fetchall():
        grouped.setdefault(job_id, []).append(flows.Dependency(dep_id, uuid, task_name, text, size))
    return {job_id: flows.dependency_results(deps, budget) for job_id, deps in grouped.items()}


# ---------------------------------------------------------------------- the flow, drawn

def flow_graph(job, max_depth=GRAPH_MAX_DEPTH, max_nodes=GRAPH_MAX_NODES):
    """The jobs linked to ``job`` by dependencies, both ways, as OCA queue_job's ``job_directed_graph``
    widget draws them: {"nodes": [...], "edges": [[from, to], ...]}, an edge going from a job to the one
    that waits for it. Only jobs the user may read, at most ``max_depth`` links away, at most
    ``max_nodes`` of them (nearest first); {} for a job outside any flow."""
    cr = job.env.cr
    seen = {job.id}
    frontier = [job.id]
    edges = set()
    truncated = False
    for _depth in range(max_depth):
        if not frontier:
            break
        cr.execute(f"""SELECT job_id, depends_on_id FROM {RELATION}
                        WHERE job_id = ANY(%s) OR depends_on_id = ANY(%s)""", [frontier, frontier])
        found = cr.fetchall()
        candidates = sorted({node for pair in found for node in pair} - seen)
        # Only through jobs the user may read: no way around a record rule by walking the graph.
        readable = set(job.browse(candidates)._filtered_access("read").ids)
        room = max_nodes - len(seen)
        if len(readable) > room:
            truncated = True
            readable = set(sorted(readable)[:room])
        seen |= readable
        edges |= {(dep, dependent) for dependent, dep in found if dep in seen and dependent in seen}
        frontier = sorted(readable)
        if truncated:
            break
    if len(seen) == 1:
        return {}
    nodes = job.browse(sorted(seen))
    return {
        "nodes": [node._flow_graph_node(current=node == job) for node in nodes],
        "edges": sorted([list(edge) for edge in edges]),
        "truncated": truncated,
    }
