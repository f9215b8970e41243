from . import smart_dairy_job_lookup_mixin
from . import smart_dairy_job_queue
from . import smart_dairy_job_task
from . import smart_dairy_job
