"""Two companies and a user of every group in each, for the trust suites of issue 12.

The people are created as the administrator over XML-RPC and log in with passwords, as an external
service would; the records they aim at (jobs, dead letters, alerts, payments...) are made as the
administrator or, where no public door creates them (alerts, dead letters, readings), in SQL.
Counts and row fingerprints are read in SQL, outside every access rule, so "nothing was written"
means nothing at all.
"""
import json
import uuid
import xmlrpc.client

import psycopg2
import pytest

from .harness import Client

# role -> xml ids of the groups it is given (Odoo adds the implied ones).
ROLES = {
    "plain": ["base.group_user"],
    "jobs_user": ["smart_dairy_jobs.group_user"],
    "jobs_manager": ["smart_dairy_jobs.group_manager"],
    "iot_user": ["smart_dairy_iot.group_user"],
    "iot_manager": ["smart_dairy_iot.group_manager"],
    "ops_user": ["smart_dairy_operations.group_user"],
    "ops_manager": ["smart_dairy_operations.group_manager"],
    "bridge": ["smart_dairy_jobs.group_bridge"],
    "sysadmin": ["base.group_system"],
}
# Who holds what, implied groups included (the security XML files' implied_ids).
JOBS_USERS = {"jobs_user", "jobs_manager", "ops_user", "ops_manager"}
JOBS_MANAGERS = {"jobs_manager"}
IOT_USERS = {"iot_user", "iot_manager"}
IOT_MANAGERS = {"iot_manager"}
OPS_USERS = {"ops_user", "ops_manager"}
OPS_MANAGERS = {"ops_manager"}
BRIDGE = {"bridge"}
SYSADMINS = {"sysadmin"}
# A user of one company with every business right there (not a system administrator).
BOSS_GROUPS = ["smart_dairy_jobs.group_manager", "smart_dairy_iot.group_manager",
               "smart_dairy_operations.group_manager"]
PASSWORD = "Trust-pass-12!"

# Tables whose row count tells whether something was written.
WATCHED_TABLES = (
    "smart_dairy_job", "smart_dairy_job_dead_letter", "smart_dairy_payment", "smart_dairy_iot_reading",
    "smart_dairy_notification_log", "smart_dairy_iot_alert", "smart_dairy_iot_milk_production",
    "smart_dairy_job_worker", "smart_dairy_report_request", "ir_attachment",
)


_CONNECTIONS = {}


def _as_psql_prints(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "t" if value else "f"
    return str(value)


def psql(odoo, sql):
    """Run ``sql`` as the superuser, committed, and answer as ``psql -tA`` would (rows on lines,
    columns joined by '|'). One connection per database for the session: the matrix asks thousands
    of times, and a psql process per question cost more than the questions."""
    connection = _CONNECTIONS.get(odoo.db)
    if connection is None or connection.closed:
        connection = _CONNECTIONS[odoo.db] = psycopg2.connect(host="127.0.0.1", user="postgres", dbname=odoo.db)
        connection.autocommit = True
    with connection.cursor() as cr:
        cr.execute(sql)
        rows = cr.fetchall() if cr.description else []
    return "\n".join("|".join(_as_psql_prints(value) for value in row) for row in rows).strip()


NO_COMPANY = {"smart_dairy_job_worker", "smart_dairy_job_alert", "smart_dairy_job_circuit"}


def counts(odoo, tables=WATCHED_TABLES, companies=None):
    """Rows per table; with ``companies``, only theirs (the main company's crons keep working meanwhile)."""
    def where(table):
        if companies and table not in NO_COMPANY:
            return f" WHERE company_id IN ({','.join(map(str, companies))})"
        return ""
    sql = " UNION ALL ".join(f"SELECT '{t}', count(*) FROM {t}{where(t)}" for t in tables)
    return dict(line.split("|") for line in psql(odoo, sql).splitlines())


_LOGGED = {}


def caller_rows(odoo, uid, tables=WATCHED_TABLES):
    """What ``uid`` created and last wrote, per table: a refused call leaves it as it was (tables
    without Odoo's log columns, as readings, are judged by their counts)."""
    if odoo.db not in _LOGGED:
        _LOGGED[odoo.db] = set(psql(odoo, "SELECT table_name FROM information_schema.columns "
                                          "WHERE column_name = 'create_uid' AND table_schema = 'public'").split())
    logged = _LOGGED[odoo.db]
    tables = [t for t in tables if t in logged]
    sql = " UNION ALL ".join(
        f"SELECT '{t}', count(*) FILTER (WHERE create_uid = {uid}), max(write_date) FILTER (WHERE write_uid = {uid}) "
        f"FROM {t}" for t in tables)
    return psql(odoo, sql)


# Columns a cron of Odoo's own rewrites on its schedule, whoever calls: the circuit mirror is re-read
# from Redis every minute (synced_at, and the write that sets it).
REFRESHED_BY_CRON = {"smart_dairy_job_circuit": ("synced_at", "write_date", "write_uid")}


def fingerprint(odoo, table, row_id):
    """The whole row as JSON (write_date included: a write rolled back leaves it as it was), but for
    the columns a cron refreshes on its own."""
    dropped = "".join(f" - '{column}'" for column in REFRESHED_BY_CRON.get(table, ()))
    return psql(odoo, f"SELECT (row_to_json(t)::jsonb{dropped})::text FROM {table} t WHERE id = {int(row_id)}")


def table_of(model):
    return model.replace(".", "_")


def call(client, model, method, *args, **kwargs):
    """The call's result, or the Fault it raised (returned, not raised, so a test can judge it)."""
    try:
        return client(model, method, *args, **kwargs)
    except xmlrpc.client.Fault as fault:
        return fault


def assert_refused(outcome, codes=(4,), what=""):
    assert isinstance(outcome, xmlrpc.client.Fault), f"{what}: expected a refusal, got {outcome!r}"
    assert "Traceback" not in outcome.faultString, f"{what}: a traceback leaked:\n{outcome.faultString[-1500:]}"
    assert outcome.faultCode in codes, (
        f"{what}: fault code {outcome.faultCode} (wanted {codes}): {outcome.faultString[-600:]}")


def assert_clean_fault(outcome, pattern, what=""):
    """A bad-input refusal: a fault, not code 1, no traceback, and its text names what was wrong."""
    import re

    assert isinstance(outcome, xmlrpc.client.Fault), f"{what}: accepted, answered {str(outcome)[:300]!r}"
    text = outcome.faultString
    assert "Traceback" not in text and outcome.faultCode != 1, (
        f"{what}: fault code {outcome.faultCode} with a traceback: {text[-800:]}")
    assert re.search(pattern, text, re.IGNORECASE), f"{what}: the fault does not say what was wrong: {text[:400]!r}"


class World:
    """Companies A and B (plus the main company of the administrator), a client per role and company."""

    def __init__(self, odoo, admin):
        self.odoo = odoo
        self.admin = admin
        self.tag = uuid.uuid4().hex[:6]
        self.main_company = admin("res.users", "read", [admin.uid], ["company_id"])[0]["company_id"][0]
        self.company = {}
        for name in ("A", "B"):
            self.company[name] = admin("res.company", "create", {"name": f"Trust {name} {self.tag}"})
        # The administrator works in every company, so it can set up records in each.
        admin("res.users", "write", [admin.uid], {"company_ids": [(4, cid) for cid in self.company.values()]})
        self.group_ids = {}
        self.clients = {}
        self.user_ids = {}
        for name, company_id in self.company.items():
            for role, groups in ROLES.items():
                self.clients[role, name] = self._user(f"{role}_{name}", company_id, groups)
            self.clients["boss", name] = self._user(f"boss_{name}", company_id, BOSS_GROUPS)

    def group(self, xml_id):
        if xml_id not in self.group_ids:
            module, name = xml_id.split(".")
            self.group_ids[xml_id] = self.admin("ir.model.data", "check_object_reference", module, name)[1]
        return self.group_ids[xml_id]

    def _user(self, login, company_id, groups):
        login = f"trust_{login}_{self.tag}"
        user_id = self.admin("res.users", "create", {
            "name": login, "login": login, "password": PASSWORD, "email": f"{login}@trust.example",
            "company_id": company_id, "company_ids": [(6, 0, [company_id])],
            "groups_id": [(6, 0, [self.group(xml_id) for xml_id in groups])],
        }, context=self.in_company(company_id))
        self.user_ids[login] = user_id
        return Client(self.odoo, login, PASSWORD)

    def counts(self, tables=WATCHED_TABLES):
        return counts(self.odoo, tables, companies=list(self.company.values()))

    def mail_template(self):
        if not hasattr(self, "_mail_template"):
            self._mail_template = self.admin("mail.template", "create", {
                "name": f"Trust notice {self.tag}",
                "model_id": self.admin("ir.model", "search", [("model", "=", "res.partner")])[0],
                "subject": "Notice for {{ object.name }}", "email_to": "{{ object.email }}",
                "body_html": "<p>Dear <t t-out='object.name'/></p>"})
        return self._mail_template

    def in_company(self, company_id):
        return {"allowed_company_ids": [company_id]}

    def as_admin(self, company, model, method, *args, **kwargs):
        """The administrator acting in company ``company`` ("A" or "B")."""
        return self.admin(model, method, *args, context=self.in_company(self.company[company]), **kwargs)

    # ------------------------------------------------------------------ records of a company

    def device(self, company, **vals):
        code = f"TR-{company}-{uuid.uuid4().hex[:8]}"
        device_id = self.as_admin(company, "smart_dairy.iot.device", "create", dict(
            {"name": f"Meter {code}", "device_code": code, "device_type": "milk_meter",
             "company_id": self.company[company]}, **vals))
        return device_id, code

    def alert(self, company, device_id=None, severity="critical", state="new"):
        device_id = device_id or self.device(company)[0]
        return int(psql(self.odoo, f"""
            INSERT INTO smart_dairy_iot_alert (name, device_id, company_id, alert_type, dedup_key, severity,
                   severity_rank, state, state_rank, message, breach_count, raised_at, create_date, write_date)
            VALUES ('Trust alert', {device_id}, {self.company[company]}, 'offline',
                    'trust-{uuid.uuid4().hex}', '{severity}', 0, '{state}', 0, 'Trust alert', 1,
                    now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC')
            RETURNING id""").splitlines()[0])

    def finished_job(self, company, task_name="smart_dairy.health.ping", state="failure", days_ago=0):
        """A job of ``company`` already finished (SQL: no worker needed), with its dead letter if failed."""
        job_uuid = str(uuid.uuid4())
        company_id = self.company[company]
        job_id = int(psql(self.odoo, f"""
            INSERT INTO smart_dairy_job (uuid, task_name, task_type_id, queue_id, company_id, user_id, state,
                   priority, attempt, args_json, kwargs_json, origin, on_dependency_failure, date_done,
                   create_date, write_date)
            SELECT '{job_uuid}', '{task_name}', t.id, t.queue_id, {company_id}, {self.admin.uid}, '{state}',
                   5, 1, '[]', '{{}}', 'xmlrpc', 'cancel', (now() AT TIME ZONE 'UTC') - interval '{days_ago} days',
                   now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC'
              FROM smart_dairy_job_task t WHERE t.name = '{task_name}'
            RETURNING id""").splitlines()[0])
        return job_id

    def dead_letter(self, company, state="new", days_ago=0):
        job_id = self.finished_job(company, days_ago=days_ago)
        return int(psql(self.odoo, f"""
            INSERT INTO smart_dairy_job_dead_letter (job_id, task_name, company_id, error_type, error_message,
                   attempts, failed_at, state, create_date, write_date)
            VALUES ({job_id}, 'smart_dairy.health.ping', {self.company[company]}, 'internal', 'trust', 1,
                    now() AT TIME ZONE 'UTC', '{state}', now() AT TIME ZONE 'UTC',
                    (now() AT TIME ZONE 'UTC') - interval '{days_ago} days')
            RETURNING id""").splitlines()[0])

    def partner(self, company):
        return self.as_admin(company, "res.partner", "create", {
            "name": f"Customer {company} {uuid.uuid4().hex[:4]}", "email": f"cust-{uuid.uuid4().hex[:6]}@trust.example",
            "company_id": self.company[company]})

    def payment(self, company, payer="01711000000"):
        return self.as_admin(company, "smart_dairy.payment", "create", {
            "partner_id": self.partner(company), "gateway": "bkash", "payer_number": payer, "amount": 250.0,
            "company_id": self.company[company]})

    def schedule(self, company, task_name="smart_dairy.health.ping", kwargs=None):
        task_id = self.admin("smart_dairy.job.task", "search", [("name", "=", task_name)])[0]
        owner = self.user_ids[f"trust_jobs_manager_{company}_{self.tag}"]
        return self.as_admin(company, "smart_dairy.job.schedule", "create", {
            "name": f"Trust {task_name} {company} {uuid.uuid4().hex[:4]}", "task_type_id": task_id,
            "kwargs_json": json.dumps(kwargs or {}), "company_id": self.company[company], "user_id": owner,
            "cron_active": False})

    def queued_job(self, company, role="jobs_manager"):
        """A ping job of ``company`` dispatched by one of its users (still waiting for a worker)."""
        job = self.clients[role, company]("smart_dairy.job", "dispatch", "smart_dairy.health.ping", countdown=3600)
        return job[0] if isinstance(job, list) else job

    def cancel_jobs(self, job_ids):
        """Undo a dispatch a case allowed, so that no worker ever runs it: cancelled as a Jobs manager
        does it (the message is revoked on the broker), in SQL if that is refused."""
        context = {"allowed_company_ids": [self.main_company, *self.company.values()]}
        for job_id in job_ids:
            try:
                self.admin("smart_dairy.job", "cancel", [int(job_id)], context=context)
            except xmlrpc.client.Fault:
                pass
            psql(self.odoo, f"UPDATE smart_dairy_job SET state = 'cancelled', date_done = now() AT TIME ZONE 'UTC' "
                            f"WHERE id = {int(job_id)} AND state IN ('waiting', 'pending', 'enqueued', 'retry')")

    def row_of_every_model(self):
        """One row of each model of the three addons in company A (made here when there is none yet)."""
        a = self.company["A"]
        device_id, _code = self.device("A")
        self.alert("A", device_id=device_id)
        self.dead_letter("A")
        self.payment("A")
        self.schedule("A")
        self.as_admin("A", "smart_dairy.report.request", "create", {"report_type": "job_statistics",
                                                                      "file_format": "csv"})
        psql(self.odoo, f"""INSERT INTO smart_dairy_iot_milk_production (device_id, company_id, day)
                            VALUES ({device_id}, {a}, '2020-01-01')""")
        psql(self.odoo, f"""INSERT INTO smart_dairy_notification_log (channel, recipient, outcome, company_id,
                                   create_date, write_date)
                            VALUES ('email', 'log@trust.example', 'sent', {a}, now(), now())""")
        psql(self.odoo, """INSERT INTO smart_dairy_job_alert (condition, subject, state, create_date, write_date)
                           VALUES ('queue_depth', 'trust', 'cleared', now(), now())""")
        if psql(self.odoo, "SELECT count(*) FROM smart_dairy_job_circuit") == "0":
            self.admin("smart_dairy.job.circuit", "create", {"service": f"trust-{self.tag}"})
        if psql(self.odoo, "SELECT count(*) FROM smart_dairy_job_task_retry_rule") == "0":
            task_id = self.admin("smart_dairy.job.task", "search", [("name", "=", "smart_dairy.health.ping")])[0]
            self.admin("smart_dairy.job.task.retry.rule", "create", {"task_id": task_id, "error_type": "internal"})
        self.clients["bridge", "A"]("smart_dairy.job.bridge", "bridge_heartbeat", {"hostname": f"trust@{self.tag}"})

    def new_job_ids(self, since_id):
        return [int(i) for i in psql(self.odoo, f"SELECT id FROM smart_dairy_job WHERE id > {since_id}").split()]

    def max_job_id(self):
        return int(psql(self.odoo, "SELECT coalesce(max(id), 0) FROM smart_dairy_job"))


@pytest.fixture(scope="session", name="world")
def world_fixture(odoo, admin):
    return World(odoo, admin)
