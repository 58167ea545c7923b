"""The cache the web processes share (CACHE_URL) on real Redis, apart from the broker (REDIS_URL).

Throttle budgets for full views of personal data live in this cache, so every web
process must see the same counts; and clearing it must not touch the broker's queues.
"""

from __future__ import annotations

import os
import uuid

import environ
import pytest
import redis
from django.core.cache.backends.redis import RedisCache

from accounts.throttling import PiiRevealThrottle

pytestmark = [pytest.mark.redis]


def _process_cache(prefix: str) -> RedisCache:
    """A cache built from CACHE_URL the way each web process builds its own."""
    url = os.environ.get("CACHE_URL")
    if not url:
        pytest.skip("needs CACHE_URL (a Redis database other than REDIS_URL's)")
    config = environ.Env.cache_url_config(url)
    return RedisCache(config["LOCATION"], {"KEY_PREFIX": prefix})


class _Request:
    def __init__(self, user_pk: int):
        self.user = type("U", (), {"pk": user_pk, "is_authenticated": True})()
        self.META = {"REMOTE_ADDR": "127.0.0.1"}


def test_reveal_budget_is_shared_by_web_processes(monkeypatch):
    prefix = uuid.uuid4().hex
    first, second = _process_cache(prefix), _process_cache(prefix)
    monkeypatch.setattr(PiiRevealThrottle, "THROTTLE_RATES", {"pii_reveal": "2/hour"})
    request = _Request(user_pk=7)

    monkeypatch.setattr(PiiRevealThrottle, "cache", first)
    assert PiiRevealThrottle().allow_request(request, None)
    assert PiiRevealThrottle().allow_request(request, None)
    monkeypatch.setattr(PiiRevealThrottle, "cache", second)
    assert not PiiRevealThrottle().allow_request(request, None), "the second process gave a fresh budget"
    second.clear()


def test_clearing_the_cache_keeps_the_brokers_queue():
    broker = redis.Redis.from_url(os.environ["REDIS_URL"])
    key = f"test-queue-{uuid.uuid4().hex}"
    broker.rpush(key, b"a queued task")
    try:
        _process_cache(uuid.uuid4().hex).clear()
        assert broker.lrange(key, 0, -1) == [b"a queued task"]
    finally:
        broker.delete(key)
