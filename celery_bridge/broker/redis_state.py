"""The Redis connection the bridge keeps its own state in (report spool, claims, circuits)."""
import redis

_clients = {}


def redis_client(url):
    client = _clients.get(url)
    if client is None:
        client = _clients[url] = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5,
                                                      health_check_interval=30)
    return client


def check_noeviction(client):
    """Queued messages and spooled reports must never be evicted: refuse any other policy."""
    try:
        policy = client.config_get("maxmemory-policy").get("maxmemory-policy")
    except redis.ResponseError:
        return None  # CONFIG disabled (managed Redis): cannot tell
    if policy != "noeviction":
        raise RuntimeError(
            f"Redis maxmemory-policy is {policy!r}: set it to 'noeviction' (redis-server --maxmemory-policy "
            "noeviction), or queued jobs and undelivered reports may be evicted"
        )
    return policy
