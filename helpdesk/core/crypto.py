"""Secrets at rest (mailbox passwords): Fernet with a key from HELPDESK_ENCRYPTION_KEY or,
when unset, derived from the secret key. Rotating either makes stored secrets unreadable,
which `decrypt` reports as DecryptionFailed."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


class DecryptionFailed(Exception):
    """The stored secret was written with another key."""


def _fernet() -> Fernet:
    key = settings.HELPDESK_ENCRYPTION_KEY
    if not key:
        digest = hashlib.sha256(f"helpdesk-secrets:{settings.SECRET_KEY}".encode()).digest()
        key = base64.urlsafe_b64encode(digest).decode()
    return Fernet(key.encode())


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode() if plaintext else ""


def decrypt(token: str) -> str:
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as error:
        raise DecryptionFailed("the secret was encrypted with another key") from error
