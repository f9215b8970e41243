"""A small XML-RPC client for Smart Dairy Jobs, as an external service would use it.

    python -m celery_bridge.services.cli --login iot_gateway dispatch smart_dairy.health.ping --wait 30
    python -m celery_bridge.services.cli status 42 0b6c1c7e-…          (ids or uuids)
    python -m celery_bridge.services.cli cancel 42
    python -m celery_bridge.services.cli dead-letters
    python -m celery_bridge.services.cli requeue 7                       (Jobs managers)
    python -m celery_bridge.services.cli validate-schedules --days 7
    python -m celery_bridge.services.cli --login admin issue-bridge-key

The password (or API key) comes from ODOO_CLIENT_PASSWORD, never from the command line.
"""
import argparse
import json
import os
import sys
import time
import xmlrpc.client

FINISHED = {"success", "failure", "cancelled"}


class JobsClient:
    def __init__(self, url, db, login, password):
        self.url, self.db, self.password = url.rstrip("/"), db, password
        common = xmlrpc.client.ServerProxy(f"{self.url}/xmlrpc/2/common")
        self.uid = common.authenticate(db, login, password, {})
        if not self.uid:
            raise SystemExit(f"Odoo refused login {login!r} on database {db!r}")
        self.models = xmlrpc.client.ServerProxy(f"{self.url}/xmlrpc/2/object", allow_none=True)

    def call(self, model, method, *args, **kwargs):
        return self.models.execute_kw(self.db, self.uid, self.password, model, method, list(args), kwargs)

    def dispatch(self, task_name, args=None, kwargs=None, **options):
        return self.call("smart_dairy.job", "dispatch", task_name, args or [], kwargs or {}, **options)

    def status(self, job_refs):
        return self.call("smart_dairy.job", "get_status", list(job_refs))

    def cancel(self, job_refs, terminate=False):
        return self.call("smart_dairy.job", "cancel", list(job_refs), terminate=terminate)

    def dead_letters(self, state="new", limit=80):
        return self.call("smart_dairy.job.dead.letter", "list_dead_letters", state=state, limit=limit)

    def requeue(self, entry_ids):
        return self.call("smart_dairy.job.dead.letter", "requeue", list(entry_ids))

    def validate_schedules(self, days=7, spacing_minutes=None):
        extra = {"spacing_minutes": spacing_minutes} if spacing_minutes is not None else {}
        return self.call("smart_dairy.job.schedule", "validate_schedules", days=days, **extra)

    def wait(self, job_id, timeout):
        deadline = time.monotonic() + timeout
        while True:
            job = self.status([job_id])[0]
            if job["state"] in FINISHED or time.monotonic() > deadline:
                return job
            time.sleep(0.2)

    def issue_bridge_key(self):
        wizard_id = self.call("smart_dairy.job.bridge.key", "create", {})
        self.call("smart_dairy.job.bridge.key", "action_issue_key", [wizard_id])
        return self.call("smart_dairy.job.bridge.key", "read", [wizard_id], ["key"])[0]["key"]


def _job_ref(text):
    return int(text) if text.isdigit() else text


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m celery_bridge.services.cli", description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("ODOO_URL", "http://127.0.0.1:8069"))
    parser.add_argument("--db", default=os.environ.get("ODOO_DB", "smart_dairy"))
    parser.add_argument("--login", default=os.environ.get("ODOO_CLIENT_LOGIN", "admin"))
    commands = parser.add_subparsers(dest="command", required=True)
    dispatch = commands.add_parser("dispatch", help="dispatch a job and print its id")
    dispatch.add_argument("task_name")
    dispatch.add_argument("--args", default="[]", help="JSON array")
    dispatch.add_argument("--kwargs", default="{}", help="JSON object")
    dispatch.add_argument("--queue")
    dispatch.add_argument("--wait", type=float, default=0, help="seconds to wait for the job to finish")
    status = commands.add_parser("status", help="print the state of jobs (ids or uuids)")
    status.add_argument("jobs", type=_job_ref, nargs="+")
    cancel = commands.add_parser("cancel", help="cancel jobs (ids or uuids)")
    cancel.add_argument("jobs", type=_job_ref, nargs="+")
    cancel.add_argument("--terminate", action="store_true", help="also stop running ones (Jobs managers)")
    letters = commands.add_parser("dead-letters", help="list dead letters")
    letters.add_argument("--state", default="new")
    letters.add_argument("--limit", type=int, default=80)
    requeue = commands.add_parser("requeue", help="requeue dead letters (Jobs managers)")
    requeue.add_argument("entry_ids", type=int, nargs="+")
    check = commands.add_parser(
        "validate-schedules", help="next runs, schedules too close on a queue (with what clears it), DST surprises; "
                                   "exit status 1 when there is any")
    check.add_argument("--days", type=int, default=7)
    check.add_argument("--spacing", type=int, help="minutes schedules on one queue keep apart (default: Odoo's "
                                                   "setting, 15)")
    commands.add_parser("issue-bridge-key", help="issue the workers' API key (Jobs managers only)")
    options = parser.parse_args(argv)

    password = os.environ.get("ODOO_CLIENT_PASSWORD")
    if not password:
        parser.error("set ODOO_CLIENT_PASSWORD to the password or API key of --login")
    client = JobsClient(options.url, options.db, options.login, password)
    try:
        if options.command == "dispatch":
            extra = {"queue": options.queue} if options.queue else {}
            job_id = client.dispatch(options.task_name, json.loads(options.args), json.loads(options.kwargs), **extra)
            print(json.dumps(client.wait(job_id, options.wait) if options.wait else {"id": job_id}, indent=1))
        elif options.command == "status":
            print(json.dumps(client.status(options.jobs), indent=1))
        elif options.command == "cancel":
            print(json.dumps(client.cancel(options.jobs, options.terminate)))
        elif options.command == "dead-letters":
            print(json.dumps(client.dead_letters(options.state, options.limit), indent=1))
        elif options.command == "requeue":
            print(json.dumps(client.requeue(options.entry_ids)))
        elif options.command == "validate-schedules":
            report = client.validate_schedules(options.days, options.spacing)
            print(json.dumps(report, indent=1))
            return 1 if report["collisions"] or report["dst"] else 0
        else:
            print(client.issue_bridge_key())
    except xmlrpc.client.Fault as fault:
        print(fault.faultString.strip().splitlines()[-1], file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
