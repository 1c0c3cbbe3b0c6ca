"""The request Chat sends for an event, and its ``X-Twilio-Signature``.

The signature is what twilio-python's ``RequestValidator`` and twilio-node's
``validateRequest`` check: base64 of HMAC-SHA1, keyed by the account's auth token, over
the full URL the request went to followed by every POST parameter's name and value,
sorted by name. A GET carries the parameters in its query string, which is part of the
URL, so nothing is appended.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

USER_AGENT = "TwilioProxy/1.1"
FORM_TYPE = "application/x-www-form-urlencoded"


def signature(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """``X-Twilio-Signature`` of a request to ``url`` with POST parameters ``params``."""
    text = url + "".join(name + params[name] for name in sorted(params))
    return base64.b64encode(hmac.digest(auth_token.encode(), text.encode(), hashlib.sha1)).decode()


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    """What goes over the wire: method, URL (with the query for a GET), body, headers."""

    method: str
    url: str
    body: bytes | None
    headers: dict[str, str]
    signature: str


def build_request(
    method: str, url: str, params: Mapping[str, str], auth_token: str, idempotency_token: str
) -> WebhookRequest:
    """Chat's request for an event: form-encoded POST, or GET with the same fields as a
    query string, signed with ``auth_token``."""
    method = method.upper()
    headers = {"User-Agent": USER_AGENT, "I-Twilio-Idempotency-Token": idempotency_token}
    if method == "GET":
        query = urlencode(params)
        full = f"{url}{'&' if '?' in url else '?'}{query}" if query else url
        signed = signature(auth_token, full, {})
        headers["X-Twilio-Signature"] = signed
        return WebhookRequest("GET", full, None, headers, signed)
    signed = signature(auth_token, url, params)
    headers["X-Twilio-Signature"] = signed
    headers["Content-Type"] = FORM_TYPE
    return WebhookRequest(method, url, urlencode(params).encode(), headers, signed)
