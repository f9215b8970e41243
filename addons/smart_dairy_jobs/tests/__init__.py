from . import test_dispatch
from . import test_bridge_report
from . import test_security
from . import test_reliability
from . import test_idempotency
from . import test_circuit
from . import test_seed_data
from . import test_ui_tour
