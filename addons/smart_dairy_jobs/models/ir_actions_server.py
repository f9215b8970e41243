import json

from odoo import api, fields, models
from odoo.exceptions import ValidationError


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
        help="A JSON object merged into the task's keyword arguments; model and ids are added.",
    )

    @api.constrains("state", "smart_dairy_task_type_id", "smart_dairy_job_kwargs")
    def _check_smart_dairy_job(self):
        for action in self.filtered(lambda a: a.state == "smart_dairy_job"):
            if not action.smart_dairy_task_type_id:
                raise ValidationError(self.env._("Choose the task the action dispatches."))
            self.env["smart_dairy.job"]._decode_json_argument(action.smart_dairy_job_kwargs, dict, "kwargs")

    def _run_action_smart_dairy_job_multi(self, eval_context=None):
        """One job per triggering record, linked back to it; dispatched for the triggering user.

        The rule was set up by an administrator, so the dispatch does not ask the user for Jobs
        rights: creating a contact must not fail because its creator cannot see background jobs.
        """
        records = eval_context.get("records") or eval_context.get("record")
        if not records:
            return False
        extra = json.loads(self.smart_dairy_job_kwargs or "{}")
        Job = self.env["smart_dairy.job"].sudo()
        for record in records:
            Job._dispatch(
                self.smart_dairy_task_type_id.name,
                kwargs=dict(extra, model=record._name, ids=[record.id]),
                res_model=record._name, res_id=record.id, origin="automation",
            )
        return False
