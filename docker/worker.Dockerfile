# A Celery worker of the bridge (and the MQTT ingestion bridge): no Odoo inside, it talks to Odoo over
# XML-RPC; IoT tasks and backups reach Odoo's database (psycopg2, pg_dump).
FROM python:3.11-slim
WORKDIR /opt/smart-dairy
RUN apt-get update && apt-get install -y --no-install-recommends gcc libpq-dev postgresql-client \
    && rm -rf /var/lib/apt/lists/*
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY celery_bridge ./celery_bridge
# The diagnostics (touch, expect_file) read and write only in their own folder, the worker's alone.
RUN useradd --system worker && mkdir -p /var/backups/smart_dairy /var/lib/smart_dairy/diagnostics \
    && chown worker /var/backups/smart_dairy && chown -R worker /var/lib/smart_dairy \
    && chmod 0700 /var/lib/smart_dairy/diagnostics
ENV DIAGNOSTICS_DIR=/var/lib/smart_dairy/diagnostics
USER worker
ENTRYPOINT ["celery", "-A", "celery_bridge"]
