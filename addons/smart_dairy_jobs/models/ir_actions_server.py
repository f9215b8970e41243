import json

from odoo import api, fields, models
from odoo.exceptions import ValidationError

from celery_bridge.core import schemas


class IrActionsServer(models.Model):
    """A server action type "Dispatch Background Job", for automation rules and contextual actions."""

    _inherit = "ir.actions.server"

    state = fields.Selection(
        selection_add=[("smart_dairy_job", "Dispatch Background Job")],
        ondelete={"smart_dairy_job": "cascade"},
    )
    smart_dairy_task_type_id = fields.Many2one("smart_dairy.job.task", string="Task to Dispatch", ondelete="restrict")
    smart_dairy_job_kwargs = fields.Text(
        string="Extra Keyword Arguments", default="{}",
        help="A JSON object merged into the task's keyword arguments; model and ids are added when the task "
             "takes them.",
    )

    @api.constrains("state", "smart_dairy_task_type_id", "smart_dairy_job_kwargs")
    def _check_smart_dairy_job(self):
        for action in self.filtered(lambda a: a.state == "smart_dairy_job"):
            if not action.smart_dairy_task_type_id:
                raise ValidationError(self.env._("Choose the task the action dispatches."))
            if action.smart_dairy_task_type_id.parent_only:
                raise ValidationError(self.env._(
                    "%(task)s only groups chunks, no worker runs it: an action cannot dispatch it.",
                    task=action.smart_dairy_task_type_id.name))
            self.env["smart_dairy.job"]._decode_json_argument(action.smart_dairy_job_kwargs, dict, "kwargs")

    def _run_action_smart_dairy_job_multi(self, eval_context=None):
        """One job per triggering record, linked back to it; dispatched for the triggering user, with
        that user's rights: like every origin, the task type's *May Dispatch* groups decide, so a user
        who may not start the task cannot have a rule start it for them (the triggering write fails)."""
        records = eval_context.get("records") or eval_context.get("record")
        if not records:
            return False
        task_name = self.smart_dairy_task_type_id.name
        extra = json.loads(self.smart_dairy_job_kwargs or "{}")
        takes_records = self._smart_dairy_task_takes_records(task_name)
        # sudo: the rule was set up by an administrator and may link the job to records its user cannot
        # read; sudo() keeps env.user, so the user's right to start the task is still checked.
        Job = self.env["smart_dairy.job"].sudo()
        for record in records:
            kwargs = dict(extra, model=record._name, ids=[record.id]) if takes_records else extra
            Job._dispatch(task_name, kwargs=kwargs, res_model=record._name, res_id=record.id, origin="automation")
        return False

    @api.model
    def _smart_dairy_task_takes_records(self, task_name):
        """Whether a task accepts the triggering records as ``model`` and ``ids`` keyword arguments: a
        task without a declared schema does, one whose schema does not name them (ping) does not."""
        schema = schemas.schema_of(task_name)
        if schema is None:
            return True
        declared = schema.get("properties", {}).get("kwargs", {}).get("properties", {})
        return {"model", "ids"} <= set(declared)
