"""e-Stars for Python bots: `EStars(url, api_key)` over the REST API, standard library only."""

from .client import EStars, Meter, new_key
from .errors import (
    BadRequest,
    Conflict,
    ConnectionFailed,
    EStarsError,
    Forbidden,
    IdempotencyConflict,
    InsufficientCredits,
    NotFound,
    PayloadTooLarge,
    PreconditionFailed,
    QuotaExceeded,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
)
from .webhooks import WebhookSignatureError, verify_webhook

__all__ = [
    "BadRequest", "Conflict", "ConnectionFailed", "EStars", "EStarsError", "Forbidden",
    "IdempotencyConflict", "InsufficientCredits", "Meter", "NotFound", "PayloadTooLarge",
    "PreconditionFailed", "QuotaExceeded", "ServiceUnavailable", "TooManyRequests",
    "Unauthorized", "new_key",
    "WebhookSignatureError", "verify_webhook",
]
__version__ = "0.1.0"
