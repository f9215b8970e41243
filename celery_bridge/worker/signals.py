"""The worker's life, wired to Celery's signals: what happens when a worker starts, is ready, forks a
pool process, meets a task it does not know, and stops. Imported by the worker app
(celery_bridge.celery), so the handlers are connected before the worker starts."""
import logging
import os

from celery.signals import (
    after_setup_logger, after_setup_task_logger, celeryd_init, task_unknown, worker_init, worker_process_init,
    worker_process_shutdown, worker_ready, worker_shutdown,
)

from celery_bridge.broker.claims import Claims
from celery_bridge.broker.redis_state import check_noeviction
from celery_bridge.core import errors
from celery_bridge.core.config import wait_for_api_key
from celery_bridge.core.idempotency import done_claim_floor
from celery_bridge.worker import metrics, odoo_client, runtime
from celery_bridge.worker.consumer import report_refused_message
from celery_bridge.worker.log_filter import install_log_filter

_logger = logging.getLogger(__name__)

install_log_filter()


@celeryd_init.connect
def _wait_for_the_bridge_key(**kwargs):
    """Before anything logs in to Odoo: on a first start the key file (ODOO_API_KEY_FILE) is written by
    Odoo's init step, perhaps after this worker started."""
    import celery_bridge.celery as worker_app  # the worker's settings live there; imported late, it imports us

    worker_app.settings = wait_for_api_key(worker_app.settings)


@worker_init.connect
def _start_metrics(**kwargs):
    # In the main process, before the pool forks: every pool process writes its counters there.
    metrics.start_worker_metrics()


@worker_init.connect
def _check_broker_policy(**kwargs):
    try:
        check_noeviction(runtime.redis())
    except RuntimeError as exc:
        _logger.critical("Refusing to start: %s", exc)
        # SystemExit, not an exception: Celery logs and ignores exceptions raised by signal handlers.
        raise SystemExit(f"Refusing to start: {exc}") from None


@worker_init.connect
@worker_process_init.connect
def _keep_done_claims_past_redelivery(**kwargs):
    # Set in the main process before the pool forks, and again in each pool process (a pool
    # process replaced after max_tasks_per_child starts from a fresh fork too).
    Claims.keep_done_claims_for(done_claim_floor(runtime.settings().broker_visibility_timeout))


@worker_ready.connect
def _start_worker_services(sender=None, **kwargs):
    settings = runtime.settings()
    if settings.metrics_port:
        try:
            metrics.serve(settings.metrics_port, runtime.redis(), node=getattr(sender, "hostname", None),
                          reserved={settings.iot_metrics_port})
        except OSError as exc:
            _logger.error("Prometheus metrics not served on port %s: %s", settings.metrics_port, exc)
    # The main process drains the report spool from now on, idle or not: reports a killed worker
    # left behind reach Odoo without waiting for a task of this worker to report (same lock, same
    # order as every other drainer: odoo_client.Reporter).
    runtime.reporter().start()


@task_unknown.connect
def _report_unknown_task(sender=None, name=None, id=None, message=None, exc=None, **kwargs):
    report_refused_message(message, errors.UNKNOWN_TASK, f"No worker task named {name!r}: is the worker up to date?")


@after_setup_logger.connect
@after_setup_task_logger.connect
def _hide_job_arguments_in_logs(logger=None, **kwargs):
    """Every handler the worker logs through masks job arguments, whichever logger a record came from."""
    install_log_filter(logger or logging.getLogger())


@worker_process_shutdown.connect
def _forget_process_metrics(pid=None, **kwargs):
    metrics.process_exited(pid or os.getpid())


@worker_shutdown.connect
def _remove_metrics_files(**kwargs):
    metrics.stop_worker_metrics()


@worker_process_shutdown.connect
@worker_shutdown.connect
def _flush_reports(**kwargs):
    reporter = odoo_client._reporter  # only a process that reported has one: none is made here
    if reporter is not None and not reporter.flush(timeout=5.0):
        _logger.warning("Worker stopping with job reports still in the spool; another worker will send them")
