from . import smart_dairy_notification_log
from . import smart_dairy_notification
from . import smart_dairy_payment
from . import smart_dairy_report_request
from . import smart_dairy_job
from . import smart_dairy_job_dead_letter
from . import smart_dairy_job_bridge
