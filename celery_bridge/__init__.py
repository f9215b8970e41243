"""Smart Dairy Jobs bridge: the Celery side of Odoo background jobs.

Workers start with ``celery -A celery_bridge worker -Q <queues>``; Celery finds the app in
``celery_bridge.celery``.  The other modules are plain Python and import no Celery app, so the Odoo
addon can import them cheaply.
"""
