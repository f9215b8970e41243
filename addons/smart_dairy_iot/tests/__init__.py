from . import test_readings
from . import test_alerts_and_status
from . import test_security
from . import test_ui_tour
from . import test_trust
from . import test_task_types
