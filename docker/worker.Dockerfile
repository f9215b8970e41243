# A Celery worker of the bridge: no Odoo inside, it talks to Odoo over XML-RPC.
FROM python:3.11-slim
WORKDIR /opt/smart-dairy
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY celery_bridge ./celery_bridge
RUN useradd --system worker
USER worker
ENTRYPOINT ["celery", "-A", "celery_bridge"]
