from . import smart_dairy_iot_device
from . import smart_dairy_iot_reading
from . import smart_dairy_iot_threshold
from . import smart_dairy_iot_alert
from . import smart_dairy_iot_milk_production
from . import smart_dairy_job
from . import smart_dairy_job_bridge
