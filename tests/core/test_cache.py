"""The Redis cache keeps one client per connection pool instead of one per call."""

from __future__ import annotations

from django.core.cache import caches

from helpdesk.core.cache import RedisCache


def test_the_cache_reuses_its_client_and_works() -> None:
    cache = caches["default"]
    assert isinstance(cache, RedisCache)
    client = cache._cache.get_client(write=True)
    assert cache._cache.get_client(write=True) is client
    assert cache._cache.get_client() is client  # one server: reads use the same pool
    cache.set("test-cache-reuse", {"a": frozenset({1})}, 30)
    assert cache.get("test-cache-reuse") == {"a": frozenset({1})}
    cache.delete("test-cache-reuse")
    assert cache.get("test-cache-reuse") is None


def test_each_server_keeps_its_own_client() -> None:
    """With replicas, writes go to the first server and reads to the others (Django's
    rule): one client for each, none connected before use."""
    several = RedisCache("redis://127.0.0.1:1/0,redis://127.0.0.1:2/0", {})
    writer = several._cache.get_client(write=True)
    reader = several._cache.get_client()
    assert writer is not reader
    assert several._cache.get_client() is reader
    assert several._cache.get_client(write=True) is writer
    ports = [c.connection_pool.connection_kwargs["port"] for c in (writer, reader)]
    assert ports == [1, 2]
