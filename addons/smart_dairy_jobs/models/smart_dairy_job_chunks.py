# One file per concern of smart_dairy.job (chunks, files, cleanup), on purpose: not merged.
# pylint: disable=consider-merging-classes-inherited
import json

from odoo import api, fields, models
from odoo.exceptions import AccessError, ValidationError

from celery_bridge.core import jobstate, limits

MAX_CHUNK_SIZE = 10000


class SmartDairyJob(models.Model):
    """Chunks (B-009 §8.2): a parent job records the whole, chunk jobs do the work. The parent is never
    sent to a worker: it is started when its chunks are dispatched, shows their aggregate progress and
    ends when the last chunk ends (success if every chunk succeeded). Each chunk is an ordinary job,
    with its own retries, time limits and dead letter."""

    _inherit = "smart_dairy.job"

    is_parent = fields.Boolean(string="Chunked", readonly=True, help="Its work is done by its chunk jobs.")
    parent_id = fields.Many2one("smart_dairy.job", string="Parent Job", readonly=True, index=True,
                                ondelete="cascade")
    child_ids = fields.One2many("smart_dairy.job", "parent_id", string="Chunks")
    chunk_count = fields.Integer(string="Number of Chunks", readonly=True)
    chunks_done = fields.Integer(readonly=True)

    @api.model
    @api.returns("self", lambda job: job.id)
    def dispatch_chunked(self, task_name, items, chunk_size=100, kwargs=None, chunk_task_name=None, **options):
        """One parent job for ``task_name`` and one chunk job of ``chunk_task_name`` (default: the
        same task) per ``chunk_size`` items, each called with ``(chunk, **kwargs)``. Returns the parent."""
        if not isinstance(items, list) or not items:
            raise ValidationError(self.env._("items must be a non-empty list."))
        if not isinstance(chunk_size, int) or not 1 <= chunk_size <= MAX_CHUNK_SIZE:
            raise ValidationError(self.env._("chunk_size must be an integer from 1 to %(max)s.", max=MAX_CHUNK_SIZE))
        chunks = [items[start:start + chunk_size] for start in range(0, len(items), chunk_size)]
        if len(chunks) > limits.MAX_DISPATCH_MANY:
            raise ValidationError(self.env._("At most %(max)s chunks per call: use larger chunks.",
                                             max=limits.MAX_DISPATCH_MANY))
        origin = self._request_origin()
        # Checks the caller's right to start the parent's task type; each chunk is checked below.
        parent_vals = self._prepare_dispatch(task_name, [], kwargs, dict(options), origin)
        now = fields.Datetime.now()
        parent_vals.update(is_parent=True, chunk_count=len(chunks), state=jobstate.STARTED,
                           date_enqueued=now, date_started=now, progress=0,
                           progress_message=self.env._("0 of %(count)s chunks done", count=len(chunks)))
        # sudo: values checked by _prepare_dispatch; the chunks go through the same checks.
        parent = self.sudo().create(parent_vals)
        self._dispatch_many([
            dict(options, task_name=chunk_task_name or task_name, args=[chunk], kwargs=kwargs or {})
            for chunk in chunks
        ], origin=origin).sudo().write({"parent_id": parent.id})
        return parent.with_env(self.env)

    def _settle_parents(self):
        """Count finished chunks on their parents; a parent ends with its last chunk."""
        parents = self.parent_id
        if not parents:
            return
        self.env.flush_all()
        self.env.cr.execute(
            """SELECT parent_id, count(*) FILTER (WHERE state IN %s),
                      count(*) FILTER (WHERE state IN %s AND state <> %s)
                 FROM smart_dairy_job WHERE parent_id = ANY(%s) GROUP BY parent_id""",
            [tuple(jobstate.TERMINAL), tuple(jobstate.TERMINAL), jobstate.SUCCESS, parents.ids],
        )
        for parent_id, done, failed in self.env.cr.fetchall():
            parent = parents.browse(parent_id)
            vals = {"chunks_done": done, "progress": int(100 * done / max(parent.chunk_count, 1)),
                    "progress_message": self.env._("%(done)s of %(count)s chunks done",
                                                   done=done, count=parent.chunk_count)}
            if done >= parent.chunk_count and parent.state not in jobstate.TERMINAL:
                vals.update(parent._chunked_outcome(failed))
            parent.write(vals)

    def action_cancel(self, terminate=False):
        """A parent never runs on a worker: cancelling it cancels its chunks not yet running (and, with
        ``terminate``, the running ones) and ends the parent."""
        self.check_access("read")  # before anything is read: jobs of the caller's companies only
        parents = self.filtered("is_parent")
        others = self - parents
        if parents:
            if not self.env.user.has_group("smart_dairy_jobs.group_manager") and parents.filtered(
                    lambda job: job.user_id != self.env.user):
                raise AccessError(self.env._("Only Jobs managers may cancel jobs dispatched by someone else."))
            stoppable = jobstate.CANCELLABLE | (jobstate.TERMINABLE if terminate else frozenset())
            chunks = parents.sudo().child_ids.filtered(lambda job: job.state in stoppable)
            # The parent first: its chunks ending must not settle it as a failure.
            parents.filtered(lambda job: job.state not in jobstate.TERMINAL).sudo().write(
                {"state": jobstate.CANCELLED, "date_done": fields.Datetime.now()})
            if chunks:
                super(SmartDairyJob, chunks).action_cancel(terminate)
        if others:
            super(SmartDairyJob, others).action_cancel(terminate)
        return True

    def _chunked_outcome(self, failed):
        children = self.child_ids
        outcomes = []
        for child in children.filtered(lambda job: job.result_json):
            result = json.loads(child.result_json)
            if isinstance(result, dict) and isinstance(result.get("outcomes"), list):
                outcomes.extend(result["outcomes"])
        result = {"chunks": self.chunk_count, "failed_chunks": failed, "outcomes": outcomes}
        vals = {"state": jobstate.FAILURE if failed else jobstate.SUCCESS, "date_done": fields.Datetime.now(),
                "result_json": json.dumps(result)}
        if self.date_started:
            vals["duration"] = (fields.Datetime.now() - self.date_started).total_seconds()
        if failed:
            vals.update(error_type=children.filtered(lambda job: job.state == jobstate.FAILURE)[:1].error_type,
                        error_message=self.env._("%(failed)s of %(count)s chunks failed or were cancelled.",
                                                 failed=failed, count=self.chunk_count))
        return vals
