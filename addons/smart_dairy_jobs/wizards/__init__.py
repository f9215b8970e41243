from . import smart_dairy_job_bridge_key
