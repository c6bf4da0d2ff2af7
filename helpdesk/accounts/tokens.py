"""API token keys: random, shown once, stored as SHA-256."""

from __future__ import annotations

import hashlib
import secrets


def new_key() -> str:
    return "hd_" + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
