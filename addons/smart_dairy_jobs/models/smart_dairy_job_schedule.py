import json
import logging
from datetime import timedelta

from odoo import Command, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError

from celery_bridge.core import jobstate, schedules

_logger = logging.getLogger(__name__)

INTERVAL_TYPES = [("minutes", "Minutes"), ("hours", "Hours"), ("days", "Days"), ("weeks", "Weeks"),
                  ("months", "Months")]
CRON_FIELDS = ("interval_number", "interval_type", "nextcall", "cron_active")
# What a schedule runs, and where: changing them on a schedule that runs as someone else would make
# that user run the change with their rights.
WORK_FIELDS = ("task_type_id", "args_json", "kwargs_json", "queue_id", "company_id")
# A week: every pattern of daily and weekly schedules shows within it.
COLLISION_HORIZON = timedelta(days=7)
DST_HORIZON = timedelta(days=366)
SPACING_PARAMETER = "smart_dairy_jobs.schedule_spacing_minutes"


class SmartDairyJobSchedule(models.Model):
    """Periodic background work, run by a Scheduled Action (ir.cron) the schedule owns.

    Interval, next call and active flag live on the cron: the schedule reads and writes them there,
    so an edit in Settings › Technical › Scheduled Actions or in Jobs › Schedules is the same edit.
    """

    _name = "smart_dairy.job.schedule"
    _inherit = ["smart_dairy.protected.fields.mixin"]
    _description = "Background Job Schedule"
    _order = "name"
    _check_company_auto = True
    # Kept by the firing itself; managers edit what runs and when, not its record of runs.
    _protected_fields = ("cron_id", "last_job_id", "skip_count", "last_skip_at")

    name = fields.Char(required=True)
    note = fields.Text()
    task_type_id = fields.Many2one(
        "smart_dairy.job.task", string="Type of Task", required=True, ondelete="restrict", check_company=True,
        context={"active_test": False},
    )
    queue_id = fields.Many2one(
        "smart_dairy.job.queue", check_company=True, help="Leave empty to use the task type's queue."
    )
    args_json = fields.Text(string="Arguments", default="[]", required=True, help="A JSON array.")
    kwargs_json = fields.Text(string="Keyword Arguments", default="{}", required=True, help="A JSON object.")
    allow_overlap = fields.Boolean(
        default=True, help="Unticked: while the previous job is still waiting or running, a firing is skipped.",
    )
    cron_id = fields.Many2one("ir.cron", string="Scheduled Action", readonly=True, ondelete="cascade", copy=False)
    interval_number = fields.Integer(compute="_compute_cron_fields", inverse="_inverse_cron_fields",
                                     compute_sudo=True, string="Every")
    interval_type = fields.Selection(INTERVAL_TYPES, compute="_compute_cron_fields", inverse="_inverse_cron_fields",
                                     compute_sudo=True, string="Unit")
    nextcall = fields.Datetime(compute="_compute_cron_fields", inverse="_inverse_cron_fields", compute_sudo=True,
                               string="Next Run")
    cron_active = fields.Boolean(compute="_compute_cron_fields", inverse="_inverse_cron_fields", compute_sudo=True,
                                 search="_search_cron_active", string="Active")
    company_id = fields.Many2one("res.company", required=True, default=lambda self: self.env.company)
    user_id = fields.Many2one(
        "res.users", string="Runs As", required=True, default=lambda self: self._default_owner(),
        domain=[("share", "=", False)],
        help="The schedule's jobs run with this user's rights, in the schedule's company, never as superuser. "
             "Only system administrators may make a schedule run as someone else.",
    )
    job_ids = fields.One2many("smart_dairy.job", "schedule_id", string="Jobs")
    job_count = fields.Integer(compute="_compute_job_count")
    last_job_id = fields.Many2one("smart_dairy.job", readonly=True, copy=False)
    skip_count = fields.Integer(string="Skipped Firings", readonly=True, copy=False)
    last_skip_at = fields.Datetime(string="Last Skipped", readonly=True, copy=False)
    collision_warning = fields.Char(compute="_compute_collision_warning")

    @api.model
    def _default_owner(self):
        # Data files load as the superuser; their schedules run as the administrator instead.
        user = self.env.user
        if user._is_superuser():
            return self.env.ref("base.user_admin", raise_if_not_found=False) or user
        return user

    def _check_owner_change(self, vals):
        """Making a schedule run as someone else would borrow their rights: system administrators only.
        That includes changing what a schedule owned by someone else runs (its task, arguments, queue
        or company) without becoming its owner."""
        if self.env.su or self.env.user.has_group("base.group_system"):
            return
        owner_id = vals.get("user_id")
        if owner_id and owner_id != self.env.uid:
            raise AccessError(self.env._("Only system administrators may make a schedule run as another user."))
        if not owner_id and set(WORK_FIELDS) & set(vals):
            others = self.filtered(lambda schedule: schedule.user_id != self.env.user)
            if others:
                raise AccessError(self.env._(
                    "%(schedules)s run as %(owners)s: only system administrators may change what they run. "
                    "Make yourself the owner (Runs As) in the same change to take them over.",
                    schedules=", ".join(others.mapped("name")), owners=", ".join(others.user_id.mapped("name"))))

    @api.constrains("user_id", "company_id", "task_type_id")
    def _check_owner_may_dispatch(self):
        for schedule in self:
            if schedule.company_id not in schedule.user_id.company_ids:
                raise ValidationError(self.env._("%(user)s has no access to %(company)s, where %(schedule)s runs.",
                                                 user=schedule.user_id.name, company=schedule.company_id.name,
                                                 schedule=schedule.name))
            try:
                schedule.task_type_id._check_may_dispatch(schedule.user_id, schedule.company_id)
            except AccessError as exc:
                raise ValidationError(exc.args[0]) from None

    def _check_task_runs_on_a_worker(self, vals):
        """Before anything is written: a task type that only groups chunks is nothing to schedule."""
        task = self.env["smart_dairy.job.task"].browse(vals.get("task_type_id") or []).sudo().exists()
        if task.parent_only:
            raise ValidationError(self.env._(
                "%(task)s only groups chunks, no worker runs it: a schedule cannot dispatch it.", task=task.name))

    @api.constrains("args_json", "kwargs_json")
    def _check_arguments(self):
        Job = self.env["smart_dairy.job"]
        for schedule in self:
            Job._decode_json_argument(schedule.args_json, list, "args")
            Job._decode_json_argument(schedule.kwargs_json, dict, "kwargs")

    # ------------------------------------------------------------------ the cron behind it

    @api.depends("cron_id.interval_number", "cron_id.interval_type", "cron_id.nextcall", "cron_id.active")
    def _compute_cron_fields(self):
        for schedule in self:
            cron = schedule.cron_id
            schedule.interval_number = cron.interval_number
            schedule.interval_type = cron.interval_type
            schedule.nextcall = cron.nextcall
            schedule.cron_active = cron.active

    def _inverse_cron_fields(self):
        for schedule in self:
            values = {"interval_number": schedule.interval_number, "interval_type": schedule.interval_type,
                      "nextcall": schedule.nextcall, "active": schedule.cron_active}
            schedule.cron_id.sudo().write({key: value for key, value in values.items() if value is not None})

    def _search_cron_active(self, operator, value):
        active_crons = self.env["ir.cron"].sudo().search([("model_id.model", "=", self._name)])
        wanted = (operator == "=") == bool(value)
        return [("cron_id", "in" if wanted else "not in", active_crons.ids)]

    @api.model_create_multi
    def create(self, vals_list):
        cron_values = []
        for vals in vals_list:
            self._check_owner_change(vals)
            self._check_task_runs_on_a_worker(vals)
            cron_values.append({
                "interval_number": vals.pop("interval_number", 1) or 1,
                "interval_type": vals.pop("interval_type", "days") or "days",
                "nextcall": vals.pop("nextcall", False) or fields.Datetime.now(),
                "active": vals.pop("cron_active", True),
            })
        schedules_ = super().create(vals_list)
        # The cron's code is ours, never the user's (sudo: Jobs managers may not edit crons); it runs as
        # the schedule's owner, whose rights the dispatch checks.
        model = self.env["ir.model"]._get(self._name)
        # Its action is for Jobs users (not "whoever may write schedules", Odoo's default for a server
        # action): an owner who is a Jobs user runs it, and _fire then checks the owner's right to the task.
        crons = self.env["ir.cron"].sudo().create([
            dict(values, name=self.env._("Jobs schedule: %(name)s", name=schedule.name), model_id=model.id,
                 state="code", code="model._fire(%d)" % schedule.id, user_id=schedule.user_id.id,
                 groups_id=[Command.set(self.env.ref("smart_dairy_jobs.group_user").ids)])
            for schedule, values in zip(schedules_, cron_values)
        ])
        for schedule, cron in zip(schedules_, crons):
            schedule._system_write({"cron_id": cron.id})
        return schedules_

    def write(self, vals):
        # Cron fields go straight to the cron: through the shared inverse, a write of one of them (a form
        # saves only what changed) would also write the others' uncomputed, empty values.
        cron_vals = {("active" if name == "cron_active" else name): vals.pop(name)
                     for name in CRON_FIELDS if name in vals}
        self._check_owner_change(vals)
        self._check_task_runs_on_a_worker(vals)
        if cron_vals:
            self.check_access("write")
            self.cron_id.sudo().write(cron_vals)  # sudo: the schedule's own cron, write access checked above
        result = super().write(vals) if vals else True
        if "user_id" in vals:
            for schedule in self:
                schedule.cron_id.sudo().user_id = schedule.user_id
        if "name" in vals:
            for schedule in self:
                schedule.cron_id.sudo().name = self.env._("Jobs schedule: %(name)s", name=schedule.name)
        return result

    def unlink(self):
        crons = self.sudo().cron_id
        result = super().unlink()
        crons.unlink()
        return result

    # ------------------------------------------------------------------ firing

    @api.model
    def _fire(self, schedule_id):
        """Called by the schedule's cron: dispatch its job as the schedule's owner, unless overlap is
        forbidden and one runs."""
        # sudo to read the schedule and keep its counters, whoever the cron runs as; the job itself is
        # dispatched with the owner's rights below.
        schedule = self.sudo().browse(schedule_id).exists()
        if not schedule:
            return False
        try:
            with self.env.cr.savepoint():
                return schedule._dispatch_as(schedule.user_id, "cron")
        except AccessError as exc:
            # The owner lost the right (left the company, or the group the task needs): nothing runs
            # until an administrator gives the schedule an owner who may.
            _logger.warning("Schedule %r (#%s) did not run: %s", schedule.name, schedule.id, exc.args[0])
            return False

    def _dispatch_as(self, user, origin):
        self.ensure_one()
        schedule = self.sudo()
        # Rights first: a firing the user may not make must leave no trace, skip counters included.
        if not user._is_superuser() and schedule.company_id not in user.sudo().company_ids:
            raise AccessError(self.env._("%(user)s does not work for %(company)s, where %(schedule)s runs.",
                                         user=user.name, company=schedule.company_id.name, schedule=schedule.name))
        schedule.task_type_id._check_may_dispatch(user, schedule.company_id)
        last = schedule.last_job_id
        if not schedule.allow_overlap and last and last.state not in jobstate.TERMINAL:
            _logger.info("Schedule %r skipped: its job %s is still %s", schedule.name, last.display_name, last.state)
            schedule.write({"skip_count": schedule.skip_count + 1, "last_skip_at": fields.Datetime.now()})
            return False
        job = self.env["smart_dairy.job"].with_user(user).with_company(schedule.company_id)._dispatch(
            schedule.task_type_id.name,
            args=json.loads(schedule.args_json or "[]"),
            kwargs=json.loads(schedule.kwargs_json or "{}"),
            origin=origin,
            **({"queue": schedule.queue_id.name} if schedule.queue_id else {}),
        )
        job.sudo().schedule_id = schedule
        schedule.last_job_id = job
        return job.with_env(self.env)

    def action_run_now(self):
        """Fire now, as the caller: their rights decide whether the task may start (maintenance for
        Jobs managers, diagnostics for administrators), in the schedule's company if it is theirs."""
        self.check_access("read")
        if not self.env.user.has_group("smart_dairy_jobs.group_user"):
            raise AccessError(self.env._("Only Jobs users may run schedules."))
        for schedule in self:
            if schedule.company_id not in self.env.user.company_ids:
                raise AccessError(self.env._("%(schedule)s belongs to a company you do not work for.",
                                             schedule=schedule.name))
            # The caller's right to the task before anything about the task is said.
            schedule.task_type_id._check_may_dispatch(self.env.user, schedule.company_id)
            if not schedule.cron_active and not schedule.task_type_id.active:
                raise UserError(self.env._("%(schedule)s's task is not implemented by any worker yet.",
                                           schedule=schedule.name))
            schedule._dispatch_as(self.env.user, self.env["smart_dairy.job"]._request_origin())
        return True

    def _compute_job_count(self):
        counts = dict(self.env["smart_dairy.job"]._read_group(
            [("schedule_id", "in", self.ids)], ["schedule_id"], ["__count"]))
        for schedule in self:
            schedule.job_count = counts.get(schedule, 0)

    def action_view_jobs(self):
        self.ensure_one()
        self.check_access("read")
        action = self.env["ir.actions.actions"]._for_xml_id("smart_dairy_jobs.smart_dairy_job_action")
        action["domain"] = [("schedule_id", "=", self.id)]
        return action

    # ------------------------------------------------------------------ sanity checks

    @api.model
    def _cron_timezone(self):
        return self.env.ref("base.user_root").tz or "UTC"

    @api.model
    def _spacing_minutes(self):
        """The minutes schedules on one queue keep apart (Settings › Jobs), 15 unless set."""
        # sudo: the rule's one system parameter, which Jobs users may not read themselves.
        value = self.env["ir.config_parameter"].sudo().get_param(SPACING_PARAMETER)
        try:
            spacing = int(value)
        except (TypeError, ValueError):
            return schedules.DEFAULT_SPACING_MINUTES
        return spacing if 1 <= spacing <= schedules.MAX_SPACING_MINUTES else schedules.DEFAULT_SPACING_MINUTES

    def _as_plain(self):
        return [
            schedules.Schedule(s.name, (s.queue_id or s.task_type_id.queue_id).name, s.nextcall,
                               s.interval_number, s.interval_type, s.id)
            for s in self if s.cron_active and s.nextcall and s.interval_number > 0 and s.interval_type
        ]

    @api.depends("queue_id", "task_type_id", "nextcall", "interval_number", "interval_type", "cron_active")
    def _compute_collision_warning(self):
        # The records being edited replace their saved versions.
        everyone = self.search([("cron_active", "=", True)]) - self._origin | self
        now = fields.Datetime.now()
        conflicts = schedules.find_conflicts(everyone._as_plain(), now, now + COLLISION_HORIZON,
                                             self._cron_timezone(), self._spacing_minutes())
        for schedule in self:
            mine = [conflict for conflict in conflicts if schedule.id in conflict.keys]
            schedule.collision_warning = self._conflict_text(mine[0], schedule.id) if mine else False

    def _conflict_text(self, conflict, key):
        """What ``conflict`` means for the schedule of ``key``, and what clears it."""
        other = conflict.names[1] if conflict.keys[0] == key else conflict.names[0]
        when = conflict.first.strftime("%Y-%m-%d %H:%M")
        if conflict.wanted_minutes == 1:
            text = self.env._("Starts in the same minute as %(other)s on %(queue)s (first at %(when)s UTC)",
                              other=other, queue=conflict.queue, when=when)
        else:
            text = self.env._(
                "Starts %(closest)s min from %(other)s on %(queue)s, %(wanted)s min apart wanted (first at "
                "%(when)s UTC)", closest=conflict.closest_minutes, other=other, queue=conflict.queue,
                wanted=conflict.wanted_minutes, when=when)
        return "%s: %s" % (text, self._conflict_advice(conflict))

    def _conflict_advice(self, conflict):
        if conflict.move is None:
            return self.env._("no shift of either clears it, move one of them to another queue")
        when = conflict.next_call.strftime("%Y-%m-%d %H:%M")
        if conflict.offset_minutes > 0:
            return self.env._("move %(schedule)s %(minutes)s min later (next run %(when)s UTC)",
                              schedule=conflict.move, minutes=conflict.offset_minutes, when=when)
        return self.env._("move %(schedule)s %(minutes)s min earlier (next run %(when)s UTC)",
                          schedule=conflict.move, minutes=-conflict.offset_minutes, when=when)

    @api.model
    def validate_schedules(self, days=7, spacing_minutes=None):
        """Next runs, schedules too close on a queue, and DST surprises of the active schedules, as
        plain data. Schedules on one queue keep ``spacing_minutes`` apart (default: Settings › Jobs,
        15); frequent ones (every less than twice that) only keep out of each other's minute, when
        their periods allow it (celery_bridge.core.schedules). Each conflict says what clears it.

        Also available to external tools over XML-RPC and as ``python -m celery_bridge.services.cli
        validate-schedules``.
        """
        self.browse().check_access("read")  # Jobs users; they see the schedules of their companies
        if not isinstance(days, int) or isinstance(days, bool) or not 0 < days <= 366:
            raise ValidationError(self.env._("days must be a whole number from 1 to 366."))
        if spacing_minutes is None:
            spacing_minutes = self._spacing_minutes()
        elif (not isinstance(spacing_minutes, int) or isinstance(spacing_minutes, bool)
              or not 0 < spacing_minutes <= schedules.MAX_SPACING_MINUTES):
            raise ValidationError(self.env._("spacing_minutes must be a whole number from 1 to %(max)s.",
                                             max=schedules.MAX_SPACING_MINUTES))
        active = self.search([("cron_active", "=", True)])
        plain = active._as_plain()
        now = fields.Datetime.now()
        until = now + timedelta(days=days)
        cron_tz = self._cron_timezone()
        local_tz = self.env.company.partner_id.tz or self.env.user.tz or "UTC"
        report = {"timezone": local_tz, "spacing_minutes": spacing_minutes, "next_runs": [], "collisions": [],
                  "dst": [], "frequent": [item.name for item in plain if schedules.is_frequent(item, spacing_minutes)]}
        for item in plain:
            runs = schedules.next_runs(item, now, until, cron_tz, limit=10)
            report["next_runs"].append({"schedule": item.name, "queue": item.queue,
                                        "runs": [fields.Datetime.to_string(run) for run in runs]})
        for conflict in schedules.find_conflicts(plain, now, until, cron_tz, spacing_minutes):
            report["collisions"].append({
                "queue": conflict.queue, "schedules": list(conflict.names),
                "first": fields.Datetime.to_string(conflict.first), "closest_minutes": conflict.closest_minutes,
                "wanted_minutes": conflict.wanted_minutes, "occurrences": conflict.occurrences,
                "move": conflict.move, "offset_minutes": conflict.offset_minutes,
                "next_call": fields.Datetime.to_string(conflict.next_call) if conflict.next_call else None,
                "advice": self._conflict_advice(conflict),
            })
        for item in plain:
            for finding in schedules.dst_findings(item, now, now + DST_HORIZON, local_tz, cron_tz):
                report["dst"].append({"schedule": finding.name, "local_time": fields.Datetime.to_string(finding.when),
                                      "problem": finding.problem})
        return report

    def action_validate_schedules(self):
        report = self.validate_schedules()
        wizard = self.env["smart_dairy.job.schedule.validation"].create({"report": self._format_report(report)})
        return {"type": "ir.actions.act_window", "res_model": wizard._name, "res_id": wizard.id,
                "view_mode": "form", "target": "new", "name": self.env._("Schedule Check")}

    @api.model
    def _format_report(self, report):
        spacing = report["spacing_minutes"]
        lines = [self.env._("Times in UTC; DST checked for %(tz)s.", tz=report["timezone"]), ""]
        lines.append(self.env._(
            "Schedules on one queue start at least %(spacing)s min apart. Frequent ones (every less than "
            "%(double)s min) cannot be: they only keep out of each other's minute where their periods allow.",
            spacing=spacing, double=2 * spacing))
        if report["frequent"]:
            lines.append("  " + self.env._("Frequent: %(names)s", names=", ".join(report["frequent"])))
        lines += ["", self.env._("Too close on a queue:")]
        lines += ["  %s" % self.env._(
            "%(queue)s: %(names)s, %(closest)s min apart (%(wanted)s wanted), %(count)s times from %(first)s; "
            "%(advice)s", queue=c["queue"], names=", ".join(c["schedules"]), closest=c["closest_minutes"],
            wanted=c["wanted_minutes"], count=c["occurrences"], first=c["first"], advice=c["advice"])
            for c in report["collisions"]] or ["  " + self.env._("none")]
        lines += ["", self.env._("Around DST changes:")]
        lines += ["  %(schedule)s, %(local_time)s: %(problem)s" % d for d in report["dst"]] or ["  " + self.env._("none")]
        lines += ["", self.env._("Next runs:")]
        lines += ["  %s (%s): %s" % (n["schedule"], n["queue"], ", ".join(n["runs"][:5]) or "-")
                  for n in report["next_runs"]]
        return "\n".join(lines)
