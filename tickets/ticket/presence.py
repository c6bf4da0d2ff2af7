"""Who is on a ticket right now ("Ana is viewing", "Ana is replying"), kept in Redis.

Each open ticket page pings every 2 seconds with its state; an entry older than
PRESENCE_TTL seconds is gone (a closed tab simply stops pinging). One Redis hash per
ticket, field per agent, so agents never overwrite each other. Presence is a courtesy:
when Redis is unreachable the page shows nobody rather than failing; the server-side
stale-reply guard (services.add_message) is what stops a double answer.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from functools import cache
from uuid import UUID

import redis
from django.conf import settings

from helpdesk.tenancy.models import Membership

PRESENCE_TTL = 8.0
STATES = ("viewing", "replying")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Presence:
    member_id: str
    name: str
    state: str
    seen: float


@cache
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)


def _key(tenant_id: UUID, ticket_id: UUID) -> str:
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "helpdesk")
    return f"{prefix}:presence:{tenant_id}:{ticket_id}"


def touch(
    *, tenant_id: UUID, ticket_id: UUID, member: Membership, state: str, now: float | None = None
) -> None:
    """The member is on the ticket page, viewing or replying."""
    entry = {
        "name": member.user.display_name,
        "state": state if state in STATES else "viewing",
        "seen": now if now is not None else time.time(),
    }
    key = _key(tenant_id, ticket_id)
    try:
        pipe = _client(settings.REDIS_URL).pipeline()
        pipe.hset(key, str(member.id), json.dumps(entry))
        pipe.expire(key, int(PRESENCE_TTL * 8))
        pipe.execute()
    except redis.RedisError as error:
        log.warning("presence not recorded: %s", error)


def leave(*, tenant_id: UUID, ticket_id: UUID, member: Membership) -> None:
    try:
        _client(settings.REDIS_URL).hdel(_key(tenant_id, ticket_id), str(member.id))
    except redis.RedisError as error:
        log.warning("presence not cleared: %s", error)


def others_present(
    *, tenant_id: UUID, ticket_id: UUID, member: Membership, now: float | None = None
) -> list[Presence]:
    """Everyone else on the ticket in the last PRESENCE_TTL seconds, repliers first."""
    try:
        entries = _client(settings.REDIS_URL).hgetall(_key(tenant_id, ticket_id))
    except redis.RedisError as error:
        log.warning("presence not read: %s", error)
        return []
    cutoff = (now if now is not None else time.time()) - PRESENCE_TTL
    present = []
    for raw_id, raw in entries.items():
        member_id = raw_id.decode() if isinstance(raw_id, bytes) else raw_id
        if member_id == str(member.id):
            continue
        try:
            entry = json.loads(raw)
            seen = float(entry["seen"])
        except (ValueError, KeyError, TypeError):
            continue
        if seen >= cutoff:
            present.append(Presence(member_id, str(entry["name"]), str(entry["state"]), seen))
    return sorted(present, key=lambda p: (p.state != "replying", p.name))
