# One file per concern of smart_dairy.job (chunks, files, cleanup, dependencies), on purpose: not merged.
# pylint: disable=consider-merging-classes-inherited
import json

from markupsafe import escape

from odoo import api, fields, models
from odoo.exceptions import AccessError, ValidationError

from celery_bridge.core import flows, jobstate

from ..engine import dependencies
from ..engine import dispatch as dispatch_engine

# Colours of a job in the flow graph (fill, border), by state.
GRAPH_COLOURS = {
    jobstate.WAITING: ("#E9ECEF", "#6C757D"),
    jobstate.SUCCESS: ("#C2FABC", "#4AD63A"),
    jobstate.FAILURE: ("#FB7E81", "#FA0A10"),
    jobstate.CANCELLED: ("#DEE2E6", "#495057"),
    jobstate.STARTED: ("#FFFF00", "#FFA500"),
    jobstate.RETRY: ("#FFE5B4", "#FF8C00"),
}
DEFAULT_GRAPH_COLOUR = ("#D2E5FF", "#2B7CE9")


class SmartDairyJob(models.Model):
    """Flows: a job may wait for others — a chain's next step, a chord's callback, a chunked job's parent
    and summary. It is created ``waiting`` and never sent until every job it depends on succeeded; then
    it is released (pending, sent as any job) with their results in its message. If one of them fails
    for good or is cancelled, it is cancelled (rule "cancel", and so are the jobs waiting for it) or
    keeps waiting (rule "wait") until a Jobs manager requeues the failed one and the new job succeeds.
    Decisions in celery_bridge.core.flows, database work in engine.dependencies."""

    _inherit = "smart_dairy.job"

    depends_on_ids = fields.Many2many(
        "smart_dairy.job", dependencies.RELATION, "job_id", "depends_on_id", string="Waits For", readonly=True,
        check_company=True, copy=False, help="The jobs that must all succeed before this one is sent.")
    dependent_ids = fields.Many2many(
        "smart_dairy.job", dependencies.RELATION, "depends_on_id", "job_id", string="Waited For By",
        readonly=True, copy=False, help="The jobs that wait for this one.")
    on_dependency_failure = fields.Selection(
        flows.ON_DEPENDENCY_FAILURE, string="If a Dependency Fails", required=True,
        default=flows.ON_FAILURE_CANCEL, readonly=True,
        help="Cancel it: the job is cancelled as soon as a job it waits for fails for good or is cancelled "
             "(and so are the jobs waiting for it). Keep waiting: it waits until a Jobs manager requeues the "
             "failed job and the new job succeeds.")
    date_released = fields.Datetime(
        string="Released On", readonly=True, copy=False,
        help="When the jobs it waited for had all succeeded and it could be sent.")
    dependency_graph = fields.Json(string="Flow", compute="_compute_dependency_graph")
    dependency_results_display = fields.Text(
        string="Results It Receives", compute="_compute_dependency_results_display",
        help="What its task finds in its job context's dependency_results: the results of the jobs it waits "
             "for, those too large for the message left out.")

    @api.constrains("depends_on_ids")
    def _check_not_depending_on_itself(self):
        for job in self:
            if job in job.depends_on_ids:
                raise ValidationError(self.env._("Job %(job)s cannot wait for itself.", job=job.display_name))

    def init(self):
        """Chunked jobs dispatched before parents waited for their chunks: their links, once."""
        # Odoo calls init() as the superuser while loading the module; over RPC it is nobody's to call.
        if not self.env.su:
            raise AccessError(self.env._("Only the system sets up the job tables."))
        result = super().init()
        self.env.cr.execute(f"""
            INSERT INTO {dependencies.RELATION} (job_id, depends_on_id)
            SELECT chunk.parent_id, chunk.id FROM smart_dairy_job chunk
              JOIN smart_dairy_job parent ON parent.id = chunk.parent_id
             WHERE parent.state <> ALL(%s)
            ON CONFLICT DO NOTHING""", [list(jobstate.TERMINAL)])
        return result

    # ------------------------------------------------------------------ API

    @api.model
    @api.returns("self", lambda jobs: jobs.ids)
    def dispatch_chain(self, steps, on_dependency_failure=None):
        """Dispatch jobs that run one after the other: ``steps`` is a list (at most
        ``limits.MAX_DISPATCH_MANY``) of requests as for :meth:`dispatch_many` — ``task_name``, optionally
        ``args``, ``kwargs`` and the options of :meth:`dispatch` (``depends_on`` too, idempotency options
        excepted). Each step waits for the one before and receives its result
        (``job_context.dependency_results``). ``on_dependency_failure`` (``cancel``, the default, or
        ``wait``) applies to every step that does not give its own. Returns the jobs, in order (ids over
        RPC); nothing is written if any step is refused."""
        dispatch_engine.check_many(self, steps)
        if not steps:
            raise ValidationError(self.env._("A chain needs at least one step."))
        return self._dispatch_flow(steps, [(index, index - 1) for index in range(1, len(steps))],
                                   on_dependency_failure)

    @api.model
    @api.returns("self", lambda jobs: jobs.ids)
    def dispatch_chord(self, group, callback, on_dependency_failure=None):
        """Dispatch a group of jobs that run side by side and a ``callback`` job that runs once they all
        succeeded, with their results (``job_context.dependency_results``, in the group's order). ``group``
        is a list of requests and ``callback`` one request, as for :meth:`dispatch_many`;
        ``on_dependency_failure`` is the callback's rule when it does not give its own. Returns the group's
        jobs followed by the callback (ids over RPC); nothing is written if any request is refused."""
        dispatch_engine.check_many(self, group)
        if not group:
            raise ValidationError(self.env._("A chord needs a group of at least one job."))
        if not isinstance(callback, dict):
            raise ValidationError(self.env._("callback must be a request (a dict with a task_name)."))
        requests = group + [callback]
        dispatch_engine.check_many(self, requests)
        return self._dispatch_flow(requests, [(len(group), index) for index in range(len(group))],
                                   on_dependency_failure)

    @api.model
    def _dispatch_flow(self, requests, edges, on_dependency_failure=None, origin=None):
        """Jobs of ``requests`` created at once, ``requests[i]`` waiting for ``requests[j]`` for each
        (i, j) of ``edges``; every request is checked before anything is written."""
        origin = origin or self._request_origin()
        vals_list = []
        for request_ in requests:
            options = dict(request_)
            dispatch_engine.check_not_idempotent(self, options)
            if on_dependency_failure not in (None, False):
                options.setdefault("on_dependency_failure", on_dependency_failure)
            vals_list.append(self._prepare_dispatch(
                options.pop("task_name", None), options.pop("args", None), options.pop("kwargs", None), options,
                origin))
        for dependent, _dependency in edges:
            vals_list[dependent]["state"] = jobstate.WAITING  # its dependency in the flow has not even started
        jobs = dispatch_engine.create_jobs(self, vals_list)
        dependencies.link(jobs, [(jobs[dependent].id, jobs[dependency].id) for dependent, dependency in edges])
        return jobs

    # ------------------------------------------------------------------ release

    def _release_dependents(self):
        """Judge again the jobs waiting for these jobs, which just ended (see engine.dependencies)."""
        dependencies.release_dependents(self)

    def _hand_dependents_to(self, new_job):
        """``new_job`` re-runs this failed job: the jobs still waiting for this one wait for it instead."""
        self.ensure_one()
        return dependencies.hand_over(self, new_job)

    # ------------------------------------------------------------------ the flow on the form

    def _compute_dependency_graph(self):
        for job in self:
            job.dependency_graph = dependencies.flow_graph(job) if job.id else {}

    def _flow_graph_node(self, current=False):
        """A job as queue_job's job_directed_graph widget draws it."""
        fill, border = GRAPH_COLOURS.get(self.state, DEFAULT_GRAPH_COLOUR)
        state = dict(self._fields["state"]._description_selection(self.env))[self.state]
        return {
            "id": self.id,
            "label": f"#{self.id} {self.task_name.rsplit('.', 1)[-1]}",
            "title": f"<strong>{escape(self.display_name)}</strong><br/>{escape(state)}",
            "color": fill,
            "border": border,
            "borderWidth": 3 if current else 1,
            "shadow": True,
        }

    def _compute_dependency_results_display(self):
        """The results its task receives, so far: those of the dependencies that succeeded already."""
        waiting = self.filtered(lambda job: job.id and job.depends_on_ids)
        (self - waiting).dependency_results_display = False
        if not waiting:
            return
        self.env.flush_all()
        results = dependencies.results_by_job(self.env.cr, waiting.ids)
        succeeded = set(waiting.sudo().depends_on_ids.filtered(lambda dep: dep.state == jobstate.SUCCESS).ids)
        for job in waiting:
            job.dependency_results_display = json.dumps(
                [entry for entry in results.get(job.id, []) if entry["job_id"] in succeeded], indent=1)
