"""Receiving e-Stars webhooks: `verify_webhook(secret, headers, body)` checks the Standard Webhooks
signature (docs/webhooks.md) and returns the event. Pass the body exactly as received."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any, Dict, Mapping, Optional, Sequence, Union

TOLERANCE_SECONDS = 300


class WebhookSignatureError(Exception):
    """The request is not a webhook from e-Stars signed with this secret, or it is too old."""


def _header(headers: Mapping[str, Any], name: str) -> Optional[str]:
    for key, value in headers.items():
        if key.lower() == name:
            return value[0] if isinstance(value, (list, tuple)) else value
    return None


def verify_webhook(
    secret: Union[str, Sequence[str]],
    headers: Mapping[str, Any],
    body: Union[str, bytes],
    tolerance_seconds: int = TOLERANCE_SECONDS,
    now: Optional[float] = None,
) -> Dict[str, Any]:
    """The event (`id`, `type`, `timestamp`, `data`), or `WebhookSignatureError`. `secret` is the
    `whsec_` value shown when the endpoint was created (a list during a rotation)."""
    msg_id = _header(headers, "webhook-id")
    timestamp = _header(headers, "webhook-timestamp")
    signatures = _header(headers, "webhook-signature")
    if not msg_id or not timestamp or not signatures:
        raise WebhookSignatureError("missing webhook-id, webhook-timestamp or webhook-signature")
    if not timestamp.isdigit() or len(timestamp) > 12:
        raise WebhookSignatureError("bad webhook-timestamp")
    current = int(time.time() if now is None else now)
    if abs(current - int(timestamp)) > tolerance_seconds:
        raise WebhookSignatureError("webhook-timestamp too far from now")
    raw = body.encode("utf-8") if isinstance(body, str) else body
    signed = msg_id.encode("utf-8") + b"." + timestamp.encode("utf-8") + b"." + raw
    presented = []
    for entry in signatures.split(" "):
        version, _, mac = entry.partition(",")
        if version == "v1" and mac:
            try:
                presented.append(base64.b64decode(mac))
            except ValueError:
                continue
    for candidate in [secret] if isinstance(secret, str) else list(secret):
        if not candidate.startswith("whsec_"):
            raise WebhookSignatureError("not a whsec_ secret")
        expected = hmac.new(base64.b64decode(candidate[6:]), signed, hashlib.sha256).digest()
        if any(hmac.compare_digest(expected, mac) for mac in presented):
            return json.loads(raw.decode("utf-8"))
    raise WebhookSignatureError("no signature matches")
