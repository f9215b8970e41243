"""Dispatch: every check a new job goes through, and its creation (idempotent when asked)."""
import json
import threading
from datetime import timedelta
from urllib.parse import urlsplit

import psycopg2.errors
from psycopg2 import errorcodes

from odoo import fields
from odoo.exceptions import ValidationError
from odoo.http import request

from celery_bridge.core import dispatch_rules, idempotency, limits, schemas

from . import dependencies, live


class IdempotencyKeyRace(psycopg2.errors.SerializationFailure):
    """A concurrent transaction took the key and has not shown us its job yet.

    As a serialization failure, Odoo retries the whole call, which then finds that job.
    """

    pgcode = errorcodes.SERIALIZATION_FAILURE


def refused(check, *args):
    """``check(*args)`` with a DispatchRefused turned into the caller's ValidationError."""
    try:
        return check(*args)
    except dispatch_rules.DispatchRefused as exc:
        raise ValidationError(str(exc)) from None


def request_origin():
    if request:
        path = request.httprequest.path
    else:
        # XML-RPC calls run with the request taken off the stack; Odoo leaves its URL on the thread.
        path = urlsplit(getattr(threading.current_thread(), "url", "") or "").path
    return "xmlrpc" if path.startswith(("/xmlrpc", "/jsonrpc")) else "ui"


def create_jobs(Job, vals_list):
    """Create jobs from checked values; a job with an idempotency key may turn out to be the one
    holding it already. ``Job`` is the caller's model; returns the jobs in the caller's env."""
    key = vals_list[0].get("idempotency_key") if len(vals_list) == 1 else None
    # sudo: the caller's right to start each task was checked in prepare, and the values are ours;
    # the job table itself is not writable by Jobs users.
    if not key:
        jobs = Job.sudo().create(vals_list)
    else:
        jobs = job_holding_key(Job, key)
        if jobs:
            return jobs.with_env(Job.env)
        try:
            with Job.env.cr.savepoint():
                jobs = Job.sudo().create(vals_list)
        except psycopg2.errors.UniqueViolation:
            # The unique index, not a search, decides who wins a race for the key.
            jobs = job_holding_key(Job, key)
            if not jobs:
                raise IdempotencyKeyRace("idempotency key %s taken by a concurrent dispatch" % key) from None
            return jobs.with_env(Job.env)
    jobs._schedule_publish()
    live.jobs_changed(jobs)
    return jobs.with_env(Job.env)


def job_holding_key(Job, key):
    """The job holding an idempotency key, after freeing the key if its TTL has run out."""
    Job.flush_model(["idempotency_key", "idempotency_expires_at"])
    Job.env.cr.execute(
        """UPDATE smart_dairy_job SET idempotency_key = NULL
            WHERE idempotency_key = %s AND idempotency_expires_at < now() AT TIME ZONE 'UTC'""",
        [key],
    )
    if Job.env.cr.rowcount:
        Job.invalidate_model(["idempotency_key"])
    return Job.sudo().with_context(active_test=False).search([("idempotency_key", "=", key)], limit=1)


def prepare(Job, task_name, args, kwargs, options, origin=None, as_parent=False):
    """The values of a new job, after every check a dispatch goes through, whatever its origin:
    known options, the caller's right to start the task type, the task's argument schema, the
    limits of celery_bridge.core.limits and the jobs it may depend on. Raises before anything is written.
    A task type that only groups chunks is accepted only ``as_parent`` (by dispatch_chunked)."""
    env = Job.env
    refused(dispatch_rules.check_options, options)
    refused(dispatch_rules.check_task_name, task_name)
    Task = env["smart_dairy.job.task"]
    task = Task.browse(Task._id_by_name(task_name)).sudo()
    if not task:
        raise ValidationError(
            env._("Unknown task %(name)r: no active task type has that name (Jobs › Configuration › Task Types).",
                  name=task_name)
        )
    task._check_may_dispatch(env.user, env.company)
    if task.parent_only and not as_parent:
        # No worker implements it: sent alone, it would be accepted here and fail there as unknown.
        raise ValidationError(env._(
            "%(task)s only groups chunks, no worker runs it: dispatch it as the parent of "
            "dispatch_chunked(%(task)r, items, chunk_task_name=...), or through the method made for it.",
            task=task.name))
    args = refused(dispatch_rules.decode_json_argument, args, list, "args")
    kwargs = refused(dispatch_rules.decode_json_argument, kwargs, dict, "kwargs")
    refused(dispatch_rules.check_kwargs_keys, kwargs)
    try:
        schemas.check_call(task.name, args, kwargs)
    except schemas.ArgumentError as exc:
        raise ValidationError(env._("Arguments of %(task)s refused: %(reason)s", task=task.name,
                                    reason=exc)) from None
    queue = task.queue_id
    if options.get("queue") not in (None, False, ""):
        refused(dispatch_rules.check_queue_name, options["queue"])
        Queue = env["smart_dairy.job.queue"]
        queue = Queue.browse(Queue._id_by_name(options["queue"])).sudo()
        if not queue:
            known = ", ".join(Queue.sudo().search([], limit=50).mapped("name"))
            raise ValidationError(
                env._("Queue %(queue)r does not exist. Known queues: %(known)s.", queue=options["queue"], known=known)
            )
    priority = refused(dispatch_rules.check_priority, options.get("priority", task.priority))
    vals = {
        "task_type_id": task.id,
        "task_name": task.name,
        "queue_id": queue.id,
        "priority": priority,
        "args_json": json.dumps(args),
        "kwargs_json": json.dumps(kwargs),
        "max_retries": task.max_retries,
        "eta": planned_eta(Job, options.get("countdown"), options.get("eta"), task),
        "origin": checked_origin(Job, origin),
        "user_id": env.uid,
        "company_id": env.company.id,
    }
    vals.update(related_record(Job, options.get("res_model"), options.get("res_id")))
    vals.update(idempotency_vals(Job, task, args, kwargs, options))
    vals.update(dependencies.dispatch_vals(Job, options))
    return vals


def planned_eta(Job, countdown, eta, task):
    now = fields.Datetime.now()
    planned = refused(dispatch_rules.requested_eta, countdown, eta, now)
    opening = task._window_opening(max(planned or now, now), Job.env.company)
    return opening if opening > now else planned


def checked_origin(Job, origin):
    """The origin server code named (it is never taken from a caller), or the request's."""
    origin = origin or request_origin()
    known = Job._fields["origin"].get_values(Job.env)  # other addons add origins
    if origin not in known:
        raise ValidationError(
            Job.env._("Unknown origin %(origin)r. Known: %(known)s.", origin=origin, known=", ".join(known)))
    return origin


def related_record(Job, res_model, res_id):
    env = Job.env
    if not res_model and not res_id:
        return {}
    if not res_model or not res_id:
        raise ValidationError(env._("Give res_model and res_id together."))
    if not isinstance(res_model, str) or res_model not in env:
        raise ValidationError(env._("Model %(model)r does not exist.", model=str(res_model)[:100]))
    if env[res_model]._abstract or env[res_model]._transient:
        raise ValidationError(env._("%(model)s has no stored records to link a job to.", model=res_model))
    if not isinstance(res_id, int) or isinstance(res_id, bool) or not 0 < res_id < 2**31:
        raise ValidationError(env._("res_id must be a record id."))
    record = env[res_model].browse(res_id)
    if not record.exists():
        raise ValidationError(env._("%(model)s record %(id)s does not exist.", model=res_model, id=res_id))
    record.check_access("read")
    return {"res_model": res_model, "res_id": res_id}


def idempotency_vals(Job, task, args, kwargs, options):
    wanted = refused(dispatch_rules.idempotency_request, task.idempotency, options)
    if wanted is None:
        return {}
    explicit_key, scope = wanted
    try:
        key = idempotency.make_key(task.name, args, kwargs, scope=scope, user_id=Job.env.uid,
                                   company_id=Job.env.company.id, key=explicit_key)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None
    return {
        "idempotency_key": key,
        "idempotency_expires_at": fields.Datetime.now() + timedelta(seconds=task.idempotency_ttl),
    }


def check_many(Job, requests):
    """The shape of a dispatch_many call, before any request in it is looked at."""
    env = Job.env
    if not isinstance(requests, list) or not all(isinstance(r, dict) for r in requests):
        raise ValidationError(env._("requests must be a list of dicts, each with a task_name."))
    if len(requests) > limits.MAX_DISPATCH_MANY:
        raise ValidationError(env._("At most %(max)s jobs per call, not %(count)s.",
                                    max=limits.MAX_DISPATCH_MANY, count=len(requests)))


def check_not_idempotent(Job, options):
    if dispatch_rules.IDEMPOTENCY_OPTIONS & set(options):
        raise ValidationError(Job.env._("Idempotent jobs are dispatched one by one, with dispatch()."))
