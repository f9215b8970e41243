"""The broker: the Celery app's configuration, publishing job messages (Odoo's side), the Redis
transport that sets poison items aside, and the state the workers keep in Redis (claims, circuit
breakers). Depends on core only."""
