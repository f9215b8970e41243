"""The limits every door of Smart Dairy Jobs enforces, in one place (README › Security › Limits).

Odoo refuses a call that exceeds one with a clean fault and writes nothing; the workers refuse a
message that exceeds one as invalid input, without running it.
"""

# Arguments of one job, as JSON text (args and kwargs together). An IoT batch of 2,000 readings is
# about 80 KB in compact JSON; a rendered mail body is rarely above 100 KB.
MAX_ARGUMENTS_BYTES = 512 * 1024
# An idempotency key as the caller gives it (the stored key adds the scope in front).
MAX_IDEMPOTENCY_KEY_LENGTH = 200
# Jobs dispatched by one dispatch_many call, and chunks of one dispatch_chunked call.
MAX_DISPATCH_MANY = 1000
# How far ahead a countdown or an ETA may plan a job (a year and a day: yearly work, DST included).
MAX_PLANNING_SECONDS = 366 * 24 * 3600
# Reports of workers in one bridge_report call.
MAX_REPORTS_PER_CALL = 5000
# submit_readings: batches per call and readings per call, all batches together.
MAX_READING_BATCHES_PER_CALL = 1000
MAX_READINGS_PER_CALL = 20000
# submit_readings: characters of a device ID (one level of an MQTT topic), readings per job (a
# larger batch is split so one job stays well inside its 30 s).
MAX_DEVICE_ID_LENGTH = 64
MAX_READINGS_PER_JOB = 2000
# Jobs one job may depend on (a chord's group, a chunked job's chunks: MAX_DISPATCH_MANY).
MAX_DEPENDENCIES = 1000
# What a job's message carries of its dependencies' results, in characters of JSON (celery_bridge.core.flows).
MAX_DEPENDENCY_RESULTS_SIZE = 256 * 1024
# Jobs named in one get_status / cancel call.
MAX_REFS_PER_CALL = 5000
# Records per send_mail_template call and payments per process_payment call.
MAX_TEMPLATE_RECORDS = 100
MAX_PAYMENTS_PER_CALL = 100
# Free-text fields callers give (task names, queue names, mail subjects...).
MAX_NAME_LENGTH = 256
# Jobs a worker's heartbeat names as held (prefetched or running), at most.
MAX_HELD_JOBS_PER_HEARTBEAT = 10000
