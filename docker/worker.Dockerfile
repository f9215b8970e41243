# A Celery worker of the bridge (and the MQTT ingestion bridge): no Odoo inside, it talks to Odoo over
# XML-RPC; IoT tasks and backups reach Odoo's database (psycopg2, pg_dump).
FROM python:3.11-slim
WORKDIR /opt/smart-dairy
RUN apt-get update && apt-get install -y --no-install-recommends gcc libpq-dev postgresql-client \
    && rm -rf /var/lib/apt/lists/*
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY celery_bridge ./celery_bridge
RUN useradd --system worker && mkdir -p /var/backups/smart_dairy && chown worker /var/backups/smart_dairy
USER worker
ENTRYPOINT ["celery", "-A", "celery_bridge"]
