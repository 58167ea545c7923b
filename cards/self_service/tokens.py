"""The tokens of self-service links: random, in the URL path only, stored as a keyed hash.

The hash is the portal's blind index (HMAC-SHA256 keyed with BLIND_INDEX_KEY, accounts.pii) under a
purpose of its own: a database dump without the key yields no usable link, and a token found in a URL
is looked up by its hash.
"""

from __future__ import annotations

import secrets

from accounts.pii import blind_index

TOKEN_BYTES = 32
# token_urlsafe(32) gives 43 characters; anything much longer is no token of ours (checked before hashing).
TOKEN_MAX_LENGTH = 64
_PURPOSE = "self_service_link_token"


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    return blind_index(token, purpose=_PURPOSE)


__all__ = ["TOKEN_MAX_LENGTH", "new_token", "token_hash"]
