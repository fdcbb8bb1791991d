"""Mailbox passwords at rest: encrypted with Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`), with
rotatable keys.

KEHU_ENCRYPTION_KEYS (environment, comma-separated Fernet keys, newest first) encrypts with the first key and
decrypts with any of them: add a new key in front, run `kehu rotate_mailbox_passwords` (re-encrypts every
stored password with the first key), then drop the old key. Without it, one key is derived from SECRET_KEY
(so changing SECRET_KEY makes stored mailbox passwords unreadable: they must be entered again).
"""

from __future__ import annotations

import base64
import hashlib
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class SecretUnreadable(Exception):
    """The stored value was encrypted with a key that is no longer configured."""


@cache
def _fernet(keys: tuple[str, ...], secret_key: str) -> MultiFernet:
    if keys:
        return MultiFernet([Fernet(k.encode()) for k in keys])
    derived = hashlib.sha256(b"kehu.mailbox-password:" + secret_key.encode()).digest()
    return MultiFernet([Fernet(base64.urlsafe_b64encode(derived))])


def _current() -> MultiFernet:
    keys = getattr(settings, "KEHU_ENCRYPTION_KEYS", None) or ()
    return _fernet(tuple(keys), settings.SECRET_KEY)


def encrypt(value: str) -> str:
    return _current().encrypt(value.encode()).decode() if value else ""


def decrypt(token: str) -> str:
    if not token:
        return ""
    try:
        return _current().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable() from exc


def rotate(token: str) -> str:
    """The same secret, encrypted with the first (newest) key."""
    if not token:
        return ""
    try:
        return _current().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable() from exc
