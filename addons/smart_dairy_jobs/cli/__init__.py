from . import bridge_key
