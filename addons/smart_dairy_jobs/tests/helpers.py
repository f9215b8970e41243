"""Test helpers for addon authors, like OCA queue_job's ``trap_jobs``.

    from odoo.addons.smart_dairy_jobs.tests.helpers import trap_jobs

    with trap_jobs(self.env) as trap:
        record.action_that_dispatches()
    trap.assert_dispatched("smart_dairy.report.generate_report", kwargs={"format": "pdf"}, user=clerk)
    result = trap.perform(trap.jobs[0])  # the task body, in this process, without a worker
    results = trap.perform_flow()  # every trapped job, each once those it depends on succeeded

A test transaction never commits, so what a block dispatched never reaches a broker: the trap shows
it as the jobs created inside the block. ``perform`` runs a task body with the job's context (uuid,
attempt, company, user) the way a worker would, and writes its reports back through
``smart_dairy.job.bridge_report`` as the bridge user, so the job ends as it would in production
(``_on_finished`` included, so the jobs waiting for it are released). A trapped job lists the ids of
the jobs it ``depends_on``; performing it gives its task their results (``job_context.dependency_results``)
as the outbox would. Only for tasks that need no broker: a task that reads Odoo's database through its
own connection would not see the test's uncommitted rows.
"""
import json
from contextlib import contextmanager
from typing import NamedTuple

from celery_bridge.core import jobstate, protocol

from ..engine import dependencies


class TrappedJob(NamedTuple):
    task: str
    args: list
    kwargs: dict
    company: object  # res.company
    user: object  # res.users
    job: object  # smart_dairy.job (sudo)
    depends_on: tuple = ()  # ids of the jobs it waits for


class JobsTrap:
    def __init__(self, env):
        self.env = env
        self._Job = env["smart_dairy.job"].sudo().with_context(active_test=False)
        env.flush_all()
        env.cr.execute("SELECT COALESCE(MAX(id), 0) FROM smart_dairy_job")
        self._after_id = env.cr.fetchone()[0]
        self.reports = []

    @property
    def jobs(self):
        """The jobs dispatched since the trap was set, in order, as TrappedJob."""
        self.env.flush_all()
        records = self._Job.search([("id", ">", self._after_id)], order="id")
        return [TrappedJob(job.task_name, json.loads(job.args_json or "[]"), json.loads(job.kwargs_json or "{}"),
                           job.company_id, job.user_id, job, tuple(job.depends_on_ids.ids)) for job in records]

    def matching(self, task, args=None, kwargs=None, company=None, user=None):
        """The trapped jobs of ``task`` whose arguments hold ``args`` (equal) and ``kwargs`` (a subset)."""
        return [trapped for trapped in self.jobs if trapped.task == task
                and (args is None or trapped.args == list(args))
                and (kwargs is None or all(trapped.kwargs.get(key) == value for key, value in kwargs.items()))
                and (company is None or trapped.company == company)
                and (user is None or trapped.user == user)]

    def assert_dispatched(self, task, args=None, kwargs=None, company=None, user=None, count=1):
        found = self.matching(task, args, kwargs, company, user)
        if len(found) != count:
            raise AssertionError("expected %s job(s) of %s (args=%r, kwargs=%r), found %s among: %s" % (
                count, task, args, kwargs, len(found),
                [(trapped.task, trapped.args, trapped.kwargs) for trapped in self.jobs]))
        return found

    def assert_nothing_dispatched(self):
        if self.jobs:
            raise AssertionError("no job expected, found: %s" % [trapped.task for trapped in self.jobs])

    def perform(self, trapped):
        """Run the task body of ``trapped`` here, as attempt job.attempt + 1; returns its result.
        Its reports (started, progress, files, success or failure) go to Odoo as a worker's would."""
        from celery_bridge.celery import app  # the workers' app; imported only by tests that run tasks

        app.loader.import_default_modules()
        job = trapped.job
        if job.state == jobstate.WAITING:
            raise AssertionError("job %s is waiting for jobs %s: perform them first (or use perform_flow)"
                                 % (job.display_name, job.depends_on_ids.ids))
        task = app.tasks[trapped.task]
        job.write({"state": jobstate.ENQUEUED, "attempt": job.attempt + 1})
        self.env.flush_all()
        headers = {protocol.ATTEMPT_HEADER: job.attempt, protocol.COMPANY_HEADER: job.company_id.id,
                   protocol.USER_HEADER: job.user_id.id,
                   protocol.DEPENDENCY_RESULTS_HEADER: dependencies.results_by_job(self.env.cr, job.ids).get(job.id)}
        sent = []

        def report(context, state, **values):  # the spool, in process: kept in order, sent below
            sent.append(dict({"uuid": context.uuid, "attempt": context.attempt, "state": state}, **values))

        task.push_request(id=job.uuid, headers=headers, hostname="trap_jobs", **headers)
        task._report = report
        try:
            self._send([{"uuid": job.uuid, "attempt": job.attempt, "state": jobstate.STARTED, "worker": "trap_jobs"}])
            try:
                result = task.run(*trapped.args, **trapped.kwargs)
            except Exception as exc:
                self._send(sent + [{"uuid": job.uuid, "attempt": job.attempt, "state": jobstate.FAILURE,
                                    "error_type": "internal", "error_message": str(exc)[:500]}])
                raise
            self._send(sent + [{"uuid": job.uuid, "attempt": job.attempt, "state": jobstate.SUCCESS,
                                "result": json.dumps(result)}])
        finally:
            del task._report
            task.pop_request()
        job.invalidate_recordset()
        return result

    def perform_flow(self):
        """Perform every trapped job that may run (pending or waiting to retry), in order, again and again
        as the ones performed release those waiting for them, until none is left; returns {job id: result,
        or the exception its task raised}. Jobs still waiting at the end (a dependency failed) are left."""
        outcomes = {}
        while True:
            runnable = [trapped for trapped in self.jobs if trapped.job.id not in outcomes
                        and trapped.job.state in jobstate.PUBLISHABLE]
            if not runnable:
                return outcomes
            for trapped in runnable:
                try:
                    outcomes[trapped.job.id] = self.perform(trapped)
                except Exception as exc:  # noqa: BLE001 - the failure was reported; the flow goes on
                    outcomes[trapped.job.id] = exc

    def _send(self, reports):
        outcomes = self.env["smart_dairy.job"].with_user(self.env.ref("smart_dairy_jobs.user_bridge")).bridge_report(
            reports)
        self.reports.extend(zip(reports, outcomes))
        return outcomes


@contextmanager
def trap_jobs(env):
    """A JobsTrap that sees the jobs dispatched inside the ``with`` block (and after it)."""
    yield JobsTrap(env)
