"""The rows of the business reports, read straight from Odoo's tables (read-only SQL, one query per
report), always of one company: the running job's."""
from celery_bridge.core import errors
from celery_bridge.core import iot_catalog as catalog
from celery_bridge.odoo_db import job_statistics


def milk_production_rows(cr, start, end, tz_name, company_ids):
    """Milk per farm day and device, straight from the readings (so a day not yet aggregated counts),
    of the given companies' devices only (the reading's company and its device's must both be one of them)."""
    cr.execute(
        """SELECT (r.timestamp AT TIME ZONE 'UTC' AT TIME ZONE %s)::date AS day, d.name, d.device_code,
                  round(SUM(r.value)::numeric, 2)::float8, COUNT(*)
             FROM smart_dairy_iot_reading r JOIN smart_dairy_iot_device d ON d.id = r.device_id
            WHERE r.metric = %s AND r.timestamp >= %s AND r.timestamp < %s
              AND r.company_id = ANY(%s) AND d.company_id = ANY(%s)
            GROUP BY 1, 2, 3 ORDER BY 1, 2""",
        [tz_name, catalog.MILK_METRIC, start, end, list(company_ids), list(company_ids)],
    )
    return cr.fetchall()


def job_statistics_rows(cr, start, end, tz_name, company_ids):
    """Per task and queue, from the statistics Odoo's task metrics show (celery_bridge.odoo_db.job_statistics)."""
    return [
        (row["task_name"], row["queue"], row["count"], round(row["success_rate"], 1), round(row["failure_rate"], 1),
         round(row["mean_duration"], 3), round(row["p95_duration"], 3), round(row["mean_wait"], 3),
         round(row["sla_compliance"], 1))
        for row in job_statistics.task_statistics(cr, start, end, company_ids)
    ]


def report_companies(cr, company_id, user_id=None):
    """The companies a report may show: the job's company and nothing else, and only if the job's
    user (when the job names one) is a member of it. Never widened by what a caller passes."""
    if not company_id:
        raise errors.PermissionDenied("a report shows one company's data: the job has no company")
    if user_id is None:
        return [company_id]
    cr.execute("SELECT 1 FROM res_company_users_rel WHERE cid = %s AND user_id = %s", [company_id, user_id])
    if cr.fetchone() is None:
        raise errors.PermissionDenied(f"user {user_id} is not a member of company {company_id}")
    return [company_id]


def report_rows(cr, report_type, start, end, tz_name, company_id, user_id=None):
    """The rows of a report over [start, end) (naive UTC) of ``company_id``'s data only."""
    return QUERIES[report_type](cr, start, end, tz_name, report_companies(cr, company_id, user_id))


QUERIES = {"milk_production": milk_production_rows, "job_statistics": job_statistics_rows}
