# One file per concern of smart_dairy.job (chunks, files, cleanup), on purpose: not merged.
# pylint: disable=consider-merging-classes-inherited
import json

from odoo import api, fields, models
from odoo.exceptions import AccessError, ValidationError

from celery_bridge.core import flows, jobstate, limits

from ..engine import dependencies
from ..engine import dispatch as dispatch_engine

MAX_CHUNK_SIZE = 10000


class SmartDairyJob(models.Model):
    """Chunks (B-009 §8.2), one use of job dependencies: a parent job records the whole and waits for its
    chunk jobs, which do the work. The parent is never sent to a worker: it is started when its chunks are
    dispatched, shows their aggregate progress and ends when the last chunk ends (success if every chunk
    succeeded), settled by engine.dependencies as they end. Each chunk is an ordinary job, with its own
    retries, time limits and dead letter. An optional summary job waits for every chunk too and runs,
    with their results, once they all succeeded."""

    _inherit = "smart_dairy.job"

    is_parent = fields.Boolean(string="Chunked", readonly=True, help="Its work is done by its chunk jobs.")
    parent_id = fields.Many2one("smart_dairy.job", string="Parent Job", readonly=True, index=True,
                                ondelete="cascade")
    child_ids = fields.One2many("smart_dairy.job", "parent_id", string="Chunks")
    chunk_count = fields.Integer(string="Number of Chunks", readonly=True)
    chunks_done = fields.Integer(readonly=True)
    summary_job_id = fields.Many2one(
        "smart_dairy.job", readonly=True, index="btree_not_null", ondelete="set null",
        help="The job that runs once every chunk succeeded, with their results.")

    @api.model
    @api.returns("self", lambda job: job.id)
    def dispatch_chunked(self, task_name, items, chunk_size=100, kwargs=None, chunk_task_name=None, summary=None,
                         **options):
        """One parent job for ``task_name`` and one chunk job of ``chunk_task_name`` (default: the
        same task) per ``chunk_size`` items, each called with ``(chunk, **kwargs)``. ``summary``: a request
        as for :meth:`dispatch_many` (``task_name``, ``args``, ``kwargs``, options) for a job that waits
        for every chunk and runs with their results (the parent's ``summary_job_id``). Returns the parent."""
        if not isinstance(items, list) or not items:
            raise ValidationError(self.env._("items must be a non-empty list."))
        if not isinstance(chunk_size, int) or not 1 <= chunk_size <= MAX_CHUNK_SIZE:
            raise ValidationError(self.env._("chunk_size must be an integer from 1 to %(max)s.", max=MAX_CHUNK_SIZE))
        chunks = [items[start:start + chunk_size] for start in range(0, len(items), chunk_size)]
        if len(chunks) > limits.MAX_DISPATCH_MANY:
            raise ValidationError(self.env._("At most %(max)s chunks per call: use larger chunks.",
                                             max=limits.MAX_DISPATCH_MANY))
        if {"depends_on", "on_dependency_failure"} & set(options):
            raise ValidationError(self.env._(
                "A chunked job's chunks start at once: to run it after other jobs, dispatch it once they "
                "succeeded; to run something after it, give a summary."))
        if summary is not None and not isinstance(summary, dict):
            raise ValidationError(self.env._("summary must be a request (a dict with a task_name)."))
        origin = self._request_origin()
        # Checks the caller's right to start the parent's task type; each chunk is checked below.
        # A task type that only groups chunks is accepted as the parent of chunks of another type only.
        parent_vals = self._prepare_dispatch(task_name, [], kwargs, dict(options), origin,
                                             as_parent=chunk_task_name not in (None, False, "", task_name))
        summary_vals = self._prepare_summary(summary, origin) if summary is not None else None
        now = fields.Datetime.now()
        parent_vals.update(is_parent=True, chunk_count=len(chunks), state=jobstate.STARTED,
                           date_enqueued=now, date_started=now, progress=0,
                           progress_message=self.env._("0 of %(count)s chunks done", count=len(chunks)))
        # sudo: values checked by _prepare_dispatch; the chunks go through the same checks.
        parent = self.sudo().create(parent_vals)
        # Writing their parent makes it wait for them (_link_chunks_to_parents).
        chunk_jobs = self._dispatch_many([
            dict(options, task_name=chunk_task_name or task_name, args=[chunk], kwargs=kwargs or {})
            for chunk in chunks
        ], origin=origin)
        chunk_jobs.sudo().write({"parent_id": parent.id})
        if summary_vals is not None:
            summary_vals["state"] = jobstate.WAITING
            summary_job = dispatch_engine.create_jobs(self, [summary_vals])
            dependencies.link(self, [(summary_job.id, chunk.id) for chunk in chunk_jobs])
            parent.write({"summary_job_id": summary_job.id})
        return parent.with_env(self.env)

    @api.model
    def _prepare_summary(self, summary, origin):
        options = dict(summary)
        dispatch_engine.check_not_idempotent(self, options)
        if options.get("depends_on") not in (None, False):
            raise ValidationError(self.env._("A summary waits for the chunks, and for nothing else."))
        return self._prepare_dispatch(options.pop("task_name", None), options.pop("args", None),
                                      options.pop("kwargs", None), options, origin)

    @api.model_create_multi
    def create(self, vals_list):
        jobs = super().create(vals_list)
        jobs.filtered("parent_id")._link_chunks_to_parents()
        return jobs

    def write(self, vals):
        result = super().write(vals)
        if vals.get("parent_id"):
            self._link_chunks_to_parents()
        return result

    def _link_chunks_to_parents(self):
        """A chunk's parent waits for it: that link is what settles the parent (engine.dependencies)."""
        dependencies.link(self, [(chunk.parent_id.id, chunk.id) for chunk in self])

    def _chunk_settlement_vals(self, judgement):
        """A parent's progress once ``judgement.done`` of its chunks ended, and its outcome once the last did."""
        done = judgement.done
        vals = {"chunks_done": done, "progress": int(100 * done / max(self.chunk_count, 1)),
                "progress_message": self.env._("%(done)s of %(count)s chunks done", done=done, count=self.chunk_count)}
        if judgement.decision in (flows.SUCCEED, flows.FAIL):
            vals.update(self._chunked_outcome(judgement.failed))
        return vals

    def action_cancel(self, terminate=False):
        """A parent never runs on a worker: cancelling it cancels its chunks not yet running (and, with
        ``terminate``, the running ones), its summary, and ends the parent."""
        self.check_access("read")  # before anything is read: jobs of the caller's companies only
        parents = self.filtered("is_parent")
        others = self - parents
        if parents:
            if not self.env.user.has_group("smart_dairy_jobs.group_manager") and parents.filtered(
                    lambda job: job.user_id != self.env.user):
                raise AccessError(self.env._("Only Jobs managers may cancel jobs dispatched by someone else."))
            stoppable = jobstate.CANCELLABLE | (jobstate.TERMINABLE if terminate else frozenset())
            chunks = parents.sudo().child_ids.filtered(lambda job: job.state in stoppable)
            # Even one that would keep waiting for its chunks: they were stopped on purpose.
            chunks |= parents.sudo().summary_job_id.filtered(lambda job: job.state == jobstate.WAITING)
            # The parent first: its chunks ending must not settle it as a failure.
            ending = parents.filtered(lambda job: job.state not in jobstate.TERMINAL).sudo()
            ending.write({"state": jobstate.CANCELLED, "date_done": fields.Datetime.now()})
            if chunks:
                super(SmartDairyJob, chunks).action_cancel(terminate)
            ending._on_finished()
        if others:
            super(SmartDairyJob, others).action_cancel(terminate)
        return True

    def _chunked_outcome(self, failed):
        chunks = self.depends_on_ids.sorted("id")  # their outcomes in the order of the items
        outcomes = []
        for chunk in chunks.filtered(lambda job: job.result_json):
            result = json.loads(chunk.result_json)
            if isinstance(result, dict) and isinstance(result.get("outcomes"), list):
                outcomes.extend(result["outcomes"])
        result = {"chunks": self.chunk_count, "failed_chunks": failed, "outcomes": outcomes}
        vals = {"state": jobstate.FAILURE if failed else jobstate.SUCCESS, "date_done": fields.Datetime.now(),
                "result_json": json.dumps(result)}
        if self.date_started:
            vals["duration"] = (fields.Datetime.now() - self.date_started).total_seconds()
        if failed:
            vals.update(error_type=chunks.filtered(lambda job: job.state == jobstate.FAILURE)[:1].error_type,
                        error_message=self.env._("%(failed)s of %(count)s chunks failed or were cancelled.",
                                                 failed=failed, count=self.chunk_count))
        return vals
