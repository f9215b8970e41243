from odoo import fields, models
from odoo.exceptions import UserError


class SmartDairyJobDeadLetterResolve(models.TransientModel):
    _name = "smart_dairy.job.dead.letter.resolve"
    _description = "Resolve Dead Letters With a Note"

    dead_letter_ids = fields.Many2many(
        "smart_dairy.job.dead.letter", "smart_dairy_job_dead_letter_resolve_rel", "wizard_id", "dead_letter_id",
        string="Dead Letters",
        default=lambda self: self.env.context.get("active_ids", []),
    )
    note = fields.Text(required=True, help="What was done about it, for whoever looks next.")

    def action_resolve(self):
        """Resolve the chosen dead letters; the manager's rights on each are checked in _resolve."""
        self.ensure_one()
        # Read with the caller's rights: dead letters of another company are not among them.
        if not self.dead_letter_ids:
            raise UserError(self.env._("No dead letter you may handle was chosen."))
        self.dead_letter_ids._resolve(self.note)
        return {"type": "ir.actions.act_window_close"}
