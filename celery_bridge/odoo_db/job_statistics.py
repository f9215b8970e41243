"""Per-task statistics over a period: one SQL aggregation over the job table, shared by Odoo's task
metrics (smart_dairy.job.monitor.task_statistics) and the workers' job-statistics report."""

COLUMNS = ("task_name", "queue", "count", "success_rate", "failure_rate", "mean_duration", "p95_duration",
           "mean_wait", "sla_compliance")


def task_statistics(cr, date_from, date_to, company_ids):
    """Rows (dicts with COLUMNS) per task and queue for jobs created in [date_from, date_to) (naive
    UTC) of the given companies: count, success and failure rates of the finished, mean and p95 run
    time of the successful, mean wait (enqueued → started), SLA compliance. Chunked parents, which
    never run on a worker, are left out."""
    cr.execute(
        """
        SELECT job.task_name, queue.name,
               count(*),
               count(*) FILTER (WHERE job.state = 'success'),
               count(*) FILTER (WHERE job.state = 'failure'),
               avg(job.duration) FILTER (WHERE job.state = 'success'),
               percentile_cont(0.95) WITHIN GROUP (ORDER BY job.duration) FILTER (WHERE job.state = 'success'),
               avg(job.wait_time) FILTER (WHERE job.date_started IS NOT NULL),
               count(*) FILTER (WHERE job.date_started IS NOT NULL AND job.wait_time <= queue.sla_seconds),
               count(*) FILTER (WHERE job.date_started IS NOT NULL)
          FROM smart_dairy_job job
          JOIN smart_dairy_job_queue queue ON queue.id = job.queue_id
         WHERE job.create_date >= %s AND job.create_date < %s
           AND job.company_id = ANY(%s)
           AND job.is_parent IS NOT TRUE
         GROUP BY 1, 2
         ORDER BY 1, 2
        """,
        [date_from, date_to, list(company_ids)],
    )
    rows = []
    for task, queue, count, ok, failed, mean, p95, wait, within, started in cr.fetchall():
        finished = ok + failed
        rows.append({
            "task_name": task, "queue": queue, "count": count,
            "success_rate": 100.0 * ok / finished if finished else 0.0,
            "failure_rate": 100.0 * failed / finished if finished else 0.0,
            "mean_duration": float(mean or 0.0), "p95_duration": float(p95 or 0.0),
            "mean_wait": float(wait or 0.0),
            "sla_compliance": 100.0 * within / started if started else 100.0,
        })
    return rows
