"""What Odoo and the workers agree on, by name: the headers of a job message, the Redis keys the
bridge keeps its state under, the outcomes of a report batch, and the defaults both sides assume.

Changing a value here changes the wire format between Odoo and the workers: deploy both together.
"""

# --- Message headers (written by celery_bridge.broker.producer, read by celery_bridge.worker) ------
ATTEMPT_HEADER = "sdj_attempt"  # the job's attempt number; its presence makes a message an Odoo job
KEY_HEADER = "sdj_key"  # idempotency key claimed in Redis before the job runs
KEY_TTL_HEADER = "sdj_key_ttl"  # how long the done claim (and its result) is kept
LEASE_HEADER = "sdj_lease"  # seconds a running job's claim lives without a heartbeat
SERVICE_HEADER = "sdj_service"  # external service whose circuit breaker guards the task
SENT_AT_HEADER = "sdj_sent_at"  # lets the metrics tell the age of the oldest waiting message
# Whose job it is: the worker reads and writes Odoo data of this company only, for this user.
COMPANY_HEADER = "sdj_company"
USER_HEADER = "sdj_user"
SIGNATURE_HEADER = "sdj_signature"  # Odoo's HMAC over the message (celery_bridge.core.signing)
# The results of the jobs this one waited for (celery_bridge.core.flows.dependency_results); signed.
DEPENDENCY_RESULTS_HEADER = "sdj_dependency_results"

# --- Redis keys (the bridge's state, beside the broker's queues) -----------------------------------
REDIS_PREFIX = "sdj:"
REPORT_SPOOL_KEY = REDIS_PREFIX + "reports"  # reports waiting for Odoo (celery_bridge.worker.odoo_client)
CLAIM_PREFIX = REDIS_PREFIX + "claim:"  # + idempotency key (celery_bridge.broker.claims)
CIRCUIT_PREFIX = REDIS_PREFIX + "circuit:"  # + service (celery_bridge.broker.circuit)
CIRCUIT_INDEX_KEY = REDIS_PREFIX + "circuits"  # the services that have a breaker
WORKER_ALIVE_PREFIX = REDIS_PREFIX + "worker:"  # + hostname, expires after 3 missed heartbeats
PAYMENT_IDS_PREFIX = REDIS_PREFIX + "payment-ids:"  # + gateway: the gateway's ids of our payments
PAYMENT_LOCK_PREFIX = REDIS_PREFIX + "payment-lock:"  # + payment reference: one charge at a time
MAIL_SENT_PREFIX = REDIS_PREFIX + "mail-sent:"  # + job uuid: recipients a batch already mailed
# Global rate limits per task type (celery_bridge.broker.rate_limits): the limits set in Odoo, when
# Odoo last changed one live, and per task type the start times of its jobs in the last window.
RATE_LIMITS_KEY = REDIS_PREFIX + "rate-limits"  # task name -> its limit, as celery_bridge.core.rates reads it
RATE_LIMITS_CHANGED_KEY = REDIS_PREFIX + "rate-limits-changed"  # Redis time (µs) of Odoo's last live change
RATE_LOG_PREFIX = REDIS_PREFIX + "rate-log:"  # + task name: its jobs' start times within the window

# --- Remote-control commands (sent by celery_bridge.broker.producer, run by celery_bridge.worker.control)
# Broadcast to every worker; each applies them to the queues it was started for (its -Q) only.
PAUSE_QUEUES_COMMAND = "sdj_pause_queues"
RESUME_QUEUES_COMMAND = "sdj_resume_queues"

# --- Outcomes of a report batch (Odoo's answer to bridge_report, one per report) -------------------
APPLIED = "applied"  # written to the job
IGNORED = "ignored"  # late or repeated: never applied backwards
UNKNOWN = "unknown"  # no job has this uuid
INVALID = "invalid"  # the report is malformed (celery_bridge.core.worker_reports)
TAKEN_OUTCOMES = frozenset({APPLIED, IGNORED})  # the others are logged by the worker that sent them

# --- Defaults both sides assume ------------------------------------------------------------------
DEFAULT_KEY_TTL = 3600  # seconds a done claim is kept when the message does not say
DEFAULT_LEASE = 60  # seconds of a job's lease when the message does not say
DEFAULT_HEARTBEAT_INTERVAL = 10.0  # seconds between a worker's heartbeats (leases and Odoo's Workers view)
FARM_TIMEZONE = "Asia/Dhaka"  # the farm's clock: Celery's schedules and the milk aggregation's day
