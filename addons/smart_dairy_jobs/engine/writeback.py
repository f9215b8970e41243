"""The write-back: a batch of workers' reports applied to their jobs, in order, in one transaction.

Each report is judged (celery_bridge.core.jobstate) against the job as the batch has left it so far;
what an applied report writes comes from celery_bridge.core.report_effects; failures go through the
task type's retry policy (celery_bridge.core.errors.retry_decision) and, given up, to the dead letters.
The users whose jobs moved hear of it over the bus (notify_job_owners), so an open job shows it live;
so do the Jobs users of their companies (engine.live: the job form, the queue dashboard).
"""
from datetime import timedelta

from odoo import fields

from celery_bridge.core import errors, jobstate, protocol, report_effects, worker_reports

from .live import jobs_changed

# The bus notification a user's browser gets when jobs of theirs change state or progress.
JOB_PROGRESS_NOTIFICATION = "smart_dairy_jobs/job_progress"
# What it says of each job: what a job's form shows as it runs, nothing secret (no arguments, no result).
JOB_PROGRESS_FIELDS = ("id", "uuid", "state", "progress", "progress_message")


def lease_end(job, start=None):
    # Odoo's clock, not the worker's: leases are judged here (a late heartbeat's own time is
    # the one exception, see judge_late_report).
    return (start or fields.Datetime.now()) + timedelta(seconds=job.task_type_id.lease_seconds)


def report_time(report):
    return worker_reports.report_time(report) or fields.Datetime.now()


def logged(job, **entry):
    """The job's attempt log with one more entry for its current attempt."""
    return report_effects.logged(job.attempt_log, job.attempt, fields.Datetime.now(), **entry)


def vals_from_report(job, report):
    """Field values for a report that is not a failure (those go through the retry policy)."""
    return report_effects.vals_from_report(
        report, at=report_time(report), now=fields.Datetime.now(), lease_end=lease_end(job),
        date_enqueued=job.date_enqueued, attempt_log=job.attempt_log, attempt=job.attempt)


def apply_reports(Job, reports_):
    """Outcomes, one per report, of applying ``reports_`` (already checked to be a list of at most
    MAX_REPORTS_PER_CALL): ``{"uuid", "status": applied|ignored|unknown|invalid, "message"}``."""
    env = Job.env
    outcomes = [None] * len(reports_)
    valid = []
    for index, report in enumerate(reports_):
        problem = worker_reports.report_problem(report)
        if problem:
            uuid = report.get("uuid") if isinstance(report, dict) else None
            outcomes[index] = {"uuid": uuid, "status": protocol.INVALID, "message": problem}
        else:
            valid.append((index, report))

    uuids = sorted({report["uuid"] for _index, report in valid})
    # Locking the rows first makes a report wait for a publisher still marking its job enqueued.
    env.cr.execute("SELECT id, uuid FROM smart_dairy_job WHERE uuid = ANY(%s) ORDER BY id FOR UPDATE", [uuids])
    jobs = Job.sudo().browse([row[0] for row in env.cr.fetchall()])
    job_by_uuid = {job.uuid: job for job in jobs}

    live = {}
    pending_vals = {}
    failures = []
    late_successes = []
    for index, report in valid:
        job = job_by_uuid.get(report["uuid"])
        if not job:
            outcomes[index] = {"uuid": report["uuid"], "status": protocol.UNKNOWN,
                               "message": env._("No job with uuid %(uuid)s.", uuid=report["uuid"])}
            continue
        state, attempt = live.get(job, (job.state, job.attempt))
        if worker_reports.is_file_report(report):
            outcomes[index] = attach_reported_file(job, state, attempt, report)
            continue
        verdict = jobstate.judge_report(state, attempt, report["state"], report["attempt"])
        if not verdict.apply and job.reaped_attempt == report["attempt"]:
            verdict = judge_late_report(job, state, attempt, report)
            if verdict.apply:
                late_successes.append((job, report))
                live[job] = (jobstate.SUCCESS, attempt)
                outcomes[index] = {"uuid": job.uuid, "status": protocol.APPLIED, "message": ""}
                continue
        if not verdict.apply:
            outcomes[index] = {"uuid": job.uuid, "status": protocol.IGNORED, "message": verdict.reason}
            continue
        if report["state"] == jobstate.FAILURE:
            failures.append((job, report))
        else:
            pending_vals.setdefault(job, {}).update(vals_from_report(job, report))
        if report["state"] not in jobstate.NO_STATE_CHANGE:
            live[job] = (report["state"], attempt)
        outcomes[index] = {"uuid": job.uuid, "status": protocol.APPLIED, "message": ""}

    # Jobs whose state or progress this batch changes (a heartbeat only renews a lease); sudo as the
    # batch's jobs above: only the bridge user reaches here, and the owners hear only of their own.
    moved = Job.sudo().browse([job.id for job, vals in pending_vals.items() if vals.keys() - {"lease_expires_at"}])
    moved |= Job.sudo().browse([job.id for job, _report in failures + late_successes])
    deferred = succeeded = Job.sudo().browse()
    for job, vals in pending_vals.items():
        if vals.get("state") == jobstate.RETRY:
            deferred |= job
        elif vals.get("state") == jobstate.SUCCESS:
            succeeded |= job
        job.write(vals)
    deferred._schedule_publish()
    settle_failures(Job, failures)
    succeeded |= settle_late_successes(Job, late_successes)
    succeeded._on_finished()
    notify_job_owners(moved | moved.parent_id)
    jobs_changed(moved | moved.parent_id)  # to every Jobs user of their companies, once per batch
    return outcomes


def notify_job_owners(jobs):
    """Tell each user whose jobs are in ``jobs`` (as they now stand) over the bus: one notification per
    user for the whole batch, sent when the write-back commits, to that user's partner channel only."""
    for user, own_jobs in jobs.grouped("user_id").items():
        user.partner_id._bus_send(JOB_PROGRESS_NOTIFICATION, {
            "jobs": [{name: job[name] for name in JOB_PROGRESS_FIELDS} for job in own_jobs],
        })


def attach_reported_file(job, state, attempt, report):
    """Attach the file of a file report to its job, if that attempt is the one running; the outcome."""
    # Enqueued too: a job whose "started" report was ignored, or an Odoo test, may still take its file.
    if state not in (jobstate.ENQUEUED, jobstate.STARTED) or attempt != report["attempt"]:
        return {"uuid": job.uuid, "status": protocol.IGNORED,
                "message": job.env._("Job %(uuid)s is not running attempt %(attempt)s.",
                                     uuid=job.uuid, attempt=report["attempt"])}
    try:
        raw = worker_reports.file_content(report)
    except ValueError as exc:
        return {"uuid": job.uuid, "status": protocol.INVALID, "message": str(exc)}
    attachment = job.env["ir.attachment"].sudo().create({
        "name": report["filename"], "raw": raw, "mimetype": report.get("mimetype") or "application/octet-stream",
        "res_model": job._name, "res_id": job.id, "company_id": job.company_id.id,
    })
    return {"uuid": job.uuid, "status": protocol.APPLIED, "message": "", "attachment_id": attachment.id}


def judge_late_report(job, state, attempt, report):
    """A report of the attempt the reaper gave up on (see jobstate.judge_late_success): a late
    heartbeat that came within the lease renews it, a late success that ran within it settles."""
    at = worker_reports.report_time(report)
    if report["state"] == jobstate.HEARTBEAT:
        if jobstate.late_heartbeat_renews(report["attempt"], job.reaped_attempt, at, job.reaped_lease_end or None):
            job.write({"reaped_lease_end": max(job.reaped_lease_end, lease_end(job, at))})
        return jobstate.Verdict(False, jobstate.STALE_ATTEMPT)
    if report["state"] != jobstate.SUCCESS:
        return jobstate.Verdict(False, jobstate.STALE_ATTEMPT)
    within_lease = report_effects.within_reaped_lease(at, job.reaped_lease_end)
    return jobstate.judge_late_success(state, attempt, report["attempt"], job.reaped_attempt, within_lease)


def settle_late_successes(Job, late_successes):
    """Settle jobs whose reaped attempt turns out to have succeeded; returns them.

    The job keeps the attempt number it reached (a later attempt may be on the broker: its message
    finds the claim done and does not run); its dead letter, if the reaper made one, is resolved
    with a note saying why rather than deleted, so what happened stays on record.
    """
    settled = Job.sudo().browse()
    for job, report in late_successes:
        vals = vals_from_report(job, report)
        vals.update(held_by_worker=False, held_attempt=0, attempt_log=logged(
            job, outcome="late_success", reaped_attempt=report["attempt"],
            reason="the attempt the reaper took back had run to the end; its report came late"))
        job.write(vals)
        settled |= job
    open_letters = settled.dead_letter_ids.filtered(lambda entry: entry.state == "new")
    if open_letters:
        open_letters._system_write({
            "state": "resolved",
            "note": "Resolved by the system: the job's worker was thought lost, but the attempt had succeeded "
                    "and its report reached Odoo late.",
        })
    return settled


def settle_failures(Job, failures):
    """Retry or give up on failed attempts, by each task type's policy; the given-up go to the DLQ."""
    retrying = dead = Job.sudo().browse()
    for job, report in failures:
        error_type = report.get("error_type") or errors.INTERNAL
        at = report_time(report)
        decision = errors.retry_decision(error_type, job.retry_count, job.task_type_id._retry_policy(),
                                         report.get("retry_after"))
        vals = report_effects.failure_vals(report, error_type)
        if decision.retry:
            planned = job.task_type_id._window_opening(at + timedelta(seconds=decision.delay), job.company_id)
            vals.update(state=jobstate.RETRY, eta=planned,
                        retry_count=job.retry_count + 1, date_done=False,
                        attempt_log=logged(job, outcome="retry", error_type=error_type,
                                           delay=round(decision.delay, 3)))
            retrying |= job
        else:
            vals.update(state=jobstate.FAILURE, date_done=at,
                        attempt_log=logged(job, outcome="failure", error_type=error_type))
            dead |= job
        job.write(vals)
    retrying._schedule_publish()
    if dead:
        Job.env["smart_dairy.job.dead.letter"].sudo()._create_for_jobs(dead.filtered(lambda job: not job.is_parent))
        dead._on_finished()
