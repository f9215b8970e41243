"""Queue metrics read the Redis transport as it really stores messages (a real Redis, real Celery publish)."""
import os

from celery_bridge.worker import metrics
from celery_bridge.core.config import load_settings
from celery_bridge.broker.producer import Outgoing, publish


def test_queue_length_counts_every_priority_list_and_the_oldest_message_age(redis_db):
    url = os.environ.get("SDJ_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    settings = load_settings({"CELERY_BROKER_URL": url}, section={})
    queue = redis_db.test_prefix + "q"
    messages = [Outgoing(uuid=f"{queue}-{priority}", task_name="smart_dairy.health.ping", queue=queue,
                         priority=priority, args=[], kwargs={}, attempt=1) for priority in (0, 5, 9)]
    assert publish(settings, messages) == [m.uuid for m in messages]
    lists = [name for name in metrics.priority_lists(queue) if redis_db.llen(name)]
    assert len(lists) == 3, "three priorities, three Redis lists"
    length, oldest = metrics.queue_stats(redis_db, queue)
    assert length == 3
    assert 0 < oldest < 60
    families = {family.name: family for family in metrics.BrokerCollector(redis_db, queues=[queue]).collect()}
    [sample] = families["celery_queue_length"].samples
    assert (sample.labels, sample.value) == ({"queue_name": queue}, 3)


def test_an_empty_queue_has_no_age(redis_db):
    assert metrics.queue_stats(redis_db, redis_db.test_prefix + "empty") == (0, 0.0)
