from . import test_notifications
from . import test_payments
from . import test_reports
from . import test_maintenance
from . import test_ui_tour
from . import test_trust
from . import test_task_types
