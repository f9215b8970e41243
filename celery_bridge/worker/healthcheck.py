"""The worker's health check, for a container's HEALTHCHECK or a monitoring probe:

    python -m celery_bridge.worker.healthcheck                 (the worker of this container or host)
    python -m celery_bridge.worker.healthcheck --node worker-iot@host1
    python -m celery_bridge.worker.healthcheck --url http://worker-1:9808/metrics

Prints one line per worker and exits 0 when the worker holds a broker connection (``healthy``), 1
when it does not (``degraded``: it keeps retrying by itself, jobs wait) or does not answer (``down``,
or still starting: the metrics are served once the worker is ready).

Which port: a worker serves on METRICS_PORT, or on a next free one when another worker of the host
has it, and notes the port in the temporary directory (celery_bridge.worker.metrics.port_file). The
check reads the note of the worker named by ``--node``, else of every running worker of this host
(one, in a worker's container), else tries METRICS_PORT.
"""
import argparse
import glob
import json
import os
import sys
import tempfile
from urllib.request import urlopen

HEALTHY, DEGRADED, DOWN = "healthy", "degraded", "down"
# As celery_bridge.worker.metrics names them; not imported, so the check stays a light process.
PORT_FILE_PREFIX = "sdj-worker-metrics-"


def samples(text):
    from prometheus_client.parser import text_string_to_metric_families

    return {sample.name: sample.value for family in text_string_to_metric_families(text)
            for sample in family.samples if not sample.labels}


def check(url, timeout=5.0):
    """(status, explanation) of the worker serving ``url``."""
    try:
        with urlopen(url, timeout=timeout) as response:  # noqa: S310 - an operator's own URL
            values = samples(response.read().decode())
    except Exception as exc:  # noqa: BLE001 - whatever the reason, the worker does not answer
        return DOWN, f"the worker's metrics do not answer at {url}: {exc}"
    if "celery_broker_connected" not in values:
        return DOWN, f"{url} serves no celery_broker_connected: is it a Smart Dairy worker?"
    if values["celery_broker_connected"] >= 1:
        return HEALTHY, "connected to the broker"
    return DEGRADED, (f"no broker connection for {values.get('celery_broker_outage_seconds', 0):.0f} s; "
                      "the worker keeps retrying by itself and jobs wait meanwhile")


def _running(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: running
        return True
    return True


def noted_ports(directory=None):
    """{worker name: metrics port} of this host's running workers, as they noted them."""
    ports = {}
    for path in sorted(glob.glob(os.path.join(directory or tempfile.gettempdir(), PORT_FILE_PREFIX + "*.json"))):
        try:
            with open(path, encoding="utf-8") as handle:
                note = json.load(handle)
            node, port, pid = str(note["node"]), int(note["port"]), int(note["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            continue  # being written, or not ours
        if _running(pid):  # a worker killed outright leaves its note behind
            ports[node] = port
    return ports


def targets(node=None, default_port=None, directory=None):
    """[(worker name, metrics URL)] to check."""
    ports = noted_ports(directory)
    if node:
        port = ports.get(node)
        return [(node, f"http://127.0.0.1:{port}/metrics" if port else None)]
    if ports:
        return [(name, f"http://127.0.0.1:{port}/metrics") for name, port in sorted(ports.items())]
    return [(None, f"http://127.0.0.1:{default_port}/metrics")]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m celery_bridge.worker.healthcheck",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="the worker's metrics URL (default: from the worker's note, or METRICS_PORT)")
    parser.add_argument("--node", help="the worker's name (celery -n), when several workers share this host")
    parser.add_argument("--timeout", type=float, default=5.0)
    options = parser.parse_args(argv)
    if options.url:
        checks = [(options.node, options.url)]
    else:
        from celery_bridge.core.config import load_settings

        checks = targets(options.node, load_settings().metrics_port)
    healthy = True
    for node, url in checks:
        if url is None:
            status, explanation = DOWN, f"no running worker named {node} noted its metrics port on this host"
        else:
            status, explanation = check(url, options.timeout)
        line = f"{status}: {explanation}" if url is None or status == DOWN else f"{status}: {explanation} ({url})"
        print(f"{node}: {line}" if node else line)
        healthy = healthy and status == HEALTHY
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
