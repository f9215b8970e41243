# A Celery worker of the bridge (and the MQTT ingestion bridge, sdj-iot-ingest): no Odoo inside, it
# talks to Odoo over XML-RPC; IoT tasks and backups reach Odoo's database (psycopg2, pg_dump).
FROM python:3.11-slim
# postgresql-client 15 (Debian bookworm): pg_dump as new as the compose file's PostgreSQL 15.
RUN apt-get update && apt-get install -y --no-install-recommends gcc libpq-dev postgresql-client \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /tmp/smart-dairy
COPY pyproject.toml README.md LICENSE constraints.txt ./
COPY celery_bridge ./celery_bridge
# The bridge as a package with its pinned dependencies (site-packages; no source tree, no PYTHONPATH).
RUN pip install --no-cache-dir -c constraints.txt . \
    && python -c "import celery_bridge.celery" \
    && rm -rf /tmp/smart-dairy
WORKDIR /var/lib/smart_dairy
# worker: the user every process of this image runs as. smart-dairy-secrets (the same gid in the Odoo
# image) lets it read the bridge's key from /run/smart-dairy. The diagnostics (touch, expect_file)
# read and write only in their own folder, the worker's alone; backups go to /var/backups/smart_dairy.
RUN groupadd --gid 10101 smart-dairy-secrets \
    && useradd --system --no-create-home --groups smart-dairy-secrets worker \
    && mkdir -p /var/backups/smart_dairy /var/lib/smart_dairy/diagnostics \
    && chown worker /var/backups/smart_dairy && chown -R worker /var/lib/smart_dairy \
    && chmod 0700 /var/lib/smart_dairy/diagnostics \
    && install -d -o root -g smart-dairy-secrets -m 2770 /run/smart-dairy
ENV DIAGNOSTICS_DIR=/var/lib/smart_dairy/diagnostics
USER worker
ENTRYPOINT ["celery", "-A", "celery_bridge"]
