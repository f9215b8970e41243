"""The worker's health check, for a container's HEALTHCHECK or a monitoring probe:

    python -m celery_bridge.worker.healthcheck            (the worker on METRICS_PORT of this host)
    python -m celery_bridge.worker.healthcheck --url http://worker-1:9808/metrics

Prints one line and exits 0 when the worker holds a broker connection (``healthy``), 1 when it
does not (``degraded``: it keeps retrying by itself, jobs wait) or does not answer (``down``, or still
starting: the metrics are served once the worker is ready).
"""
import argparse
import sys
from urllib.request import urlopen

HEALTHY, DEGRADED, DOWN = "healthy", "degraded", "down"


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


def main(argv=None):
    from celery_bridge.core.config import load_settings

    parser = argparse.ArgumentParser(prog="python -m celery_bridge.worker.healthcheck", description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="the worker's metrics URL (default: this host's METRICS_PORT)")
    parser.add_argument("--timeout", type=float, default=5.0)
    options = parser.parse_args(argv)
    url = options.url or f"http://127.0.0.1:{load_settings().metrics_port}/metrics"
    status, explanation = check(url, options.timeout)
    print(f"{status}: {explanation}")
    return 0 if status == HEALTHY else 1


if __name__ == "__main__":
    sys.exit(main())
