from . import smart_dairy_job_lookup_mixin
from . import smart_dairy_job_queue
from . import smart_dairy_job_task
from . import smart_dairy_job_task_retry_rule
from . import smart_dairy_job_dead_letter
from . import smart_dairy_job_circuit
from . import smart_dairy_job
