"""Old data of Odoo's tables that the maintenance task deletes itself (jobs and dead letters go through
Odoo, see cleanup_batch)."""
from celery_bridge.odoo_db import connection as db

# Small batches, each its own transaction: no lock held for long, the ingestion keeps writing.
BATCH = 5000


def delete_old_readings(settings, cutoff, company_id, batch=BATCH):
    """Readings of ``company_id``'s devices older than ``cutoff`` (naive UTC), deleted a batch per
    transaction; returns the count."""
    def exists(cr):
        cr.execute("SELECT to_regclass('smart_dairy_iot_reading') IS NOT NULL")
        return cr.fetchone()[0]

    if not db.run_in_transaction(settings, exists):
        return 0
    total = 0
    while True:
        def one_batch(cr):
            cr.execute(
                """DELETE FROM smart_dairy_iot_reading WHERE id IN (
                       SELECT reading.id FROM smart_dairy_iot_reading reading
                         JOIN smart_dairy_iot_device device ON device.id = reading.device_id
                        WHERE reading.timestamp < %s AND device.company_id = %s LIMIT %s)""",
                [cutoff, company_id, batch],
            )
            return cr.rowcount

        deleted = db.run_in_transaction(settings, one_batch)
        total += deleted
        if deleted < batch:
            return total
