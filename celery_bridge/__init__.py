"""Smart Dairy Jobs bridge: the Celery side of Odoo background jobs.

Workers start with ``celery -A celery_bridge worker -Q <queues>``; Celery finds the app in
``celery_bridge.celery``. The code lives in rooms (ARCHITECTURE.md): ``core`` is plain Python the Odoo
addons import as well as the workers, and imports neither Celery nor Redis; ``broker``, ``worker``,
``odoo_db``, ``integrations``, ``services`` and ``tasks`` build on it.
"""
