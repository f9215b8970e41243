# Odoo 18 with what the addons import (celery, psycopg2, paho… and the shared celery_bridge code).
FROM odoo:18
USER root
COPY requirements.txt /opt/smart-dairy/requirements.txt
RUN pip3 install --no-cache-dir --break-system-packages -r /opt/smart-dairy/requirements.txt
COPY celery_bridge /opt/smart-dairy/celery_bridge
COPY addons /mnt/extra-addons
ENV PYTHONPATH=/opt/smart-dairy
USER odoo
