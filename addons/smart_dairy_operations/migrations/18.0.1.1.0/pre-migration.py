"""Issue 19 seeds circuits (smtp, sms, payment.bkash, payment.nagad) and a network-timeout rule for
payments. A database may already hold one of them (a circuit the Circuits view mirrored from Redis,
a rule someone added): it gets the seed's xml id, so the data file keeps it instead of failing on
the unique constraint."""
from odoo.addons.smart_dairy_jobs.engine.seed_updates import adopt

MODULE = "smart_dairy_operations"
CIRCUITS = {"circuit_smtp": "smtp", "circuit_sms": "sms", "circuit_payment_bkash": "payment.bkash",
            "circuit_payment_nagad": "payment.nagad"}


def migrate(cr, version):
    for name, service in CIRCUITS.items():
        cr.execute("SELECT id FROM smart_dairy_job_circuit WHERE service = %s", [service])
        for (res_id,) in cr.fetchall():
            adopt(cr, MODULE, name, "smart_dairy.job.circuit", res_id)
    cr.execute(
        """SELECT rule.id FROM smart_dairy_job_task_retry_rule rule
             JOIN ir_model_data xid ON xid.model = 'smart_dairy.job.task' AND xid.res_id = rule.task_id
            WHERE xid.module = %s AND xid.name = 'task_payment_process_payment'
              AND rule.error_type = 'network_timeout'""",
        [MODULE],
    )
    for (res_id,) in cr.fetchall():
        adopt(cr, MODULE, "task_payment_process_payment_rule_network_timeout", "smart_dairy.job.task.retry.rule",
              res_id)
