"""Workers refuse a Redis that may evict queued jobs (a real redis-server and a real worker process)."""
import os
import shutil
import socket
import subprocess
import sys
import time

import pytest
import redis

from celery_bridge.broker.redis_state import check_noeviction


@pytest.fixture
def evicting_redis(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [shutil.which("redis-server") or "/usr/bin/redis-server", "--port", str(port), "--bind", "127.0.0.1",
         "--save", "", "--appendonly", "no", "--maxmemory-policy", "allkeys-lru", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}"
    server.terminate()
    server.wait(10)


def test_check_names_the_policy_and_the_fix(evicting_redis):
    with pytest.raises(RuntimeError, match="maxmemory-policy is 'allkeys-lru'.*noeviction"):
        check_noeviction(redis.Redis.from_url(evicting_redis))


def test_the_machine_redis_is_set_up_right():
    assert check_noeviction(redis.Redis.from_url(os.environ.get("SDJ_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"))) \
        == "noeviction"


def test_a_worker_will_not_start_on_an_evicting_redis(evicting_redis, tmp_path):
    env = dict(os.environ, CELERY_BROKER_URL=evicting_redis + "/0", ODOO_API_KEY="unused")
    result = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "celery_bridge", "worker", "-Q", "celery", "-c", "1",
         "--without-gossip", "--without-mingle", "-l", "INFO"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0
    assert "noeviction" in result.stdout + result.stderr
