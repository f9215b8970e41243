from . import smart_dairy_job_bridge_key
from . import smart_dairy_job_dead_letter_resolve
from . import smart_dairy_job_schedule_validation
from . import smart_dairy_job_metrics_wizard
from . import smart_dairy_job_metrics_line
