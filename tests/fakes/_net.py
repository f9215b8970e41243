import socket


def free_port(host="127.0.0.1"):
    """A port nothing listens on right now (for servers that must be told their port up front)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]
