"""Typed errors from e-Stars' problem+json answers (RFC 9457), carrying the same facts."""

from __future__ import annotations

from typing import Any, Dict, List, Optional


class EStarsError(Exception):
    """Any refusal from e-Stars: `status`, `code` (e.g. INSUFFICIENT_CREDITS), `detail`, facts."""

    def __init__(self, problem: Dict[str, Any]) -> None:
        self.problem: Dict[str, Any] = problem
        self.status: int = int(problem.get("status") or 0)
        self.code: str = str(problem.get("code") or "UNKNOWN")
        self.type: str = str(problem.get("type") or "about:blank")
        self.title: str = str(problem.get("title") or "")
        self.detail: str = str(problem.get("detail") or self.title or self.code)
        self.field: Optional[str] = problem.get("field")
        self.errors: List[Dict[str, str]] = list(problem.get("errors") or [])
        super().__init__(f"{self.code}: {self.detail}")

    def fact(self, name: str, default: Any = None) -> Any:
        """A fact of the domain error, e.g. `available`, `required`, `resetsAt`."""
        return self.problem.get(name, default)


class BadRequest(EStarsError):
    """400: `field` names the first invalid input field, `errors` lists them all."""


class Unauthorized(EStarsError):
    """401: missing, unknown or revoked API key."""


class Forbidden(EStarsError):
    """403: e.g. a blocked customer or a gated feature without entitlement."""


class NotFound(EStarsError):
    """404: no such customer, hold, payment… in this project."""


class Conflict(EStarsError):
    """409: the idempotency key was used with another input, or a hold is no longer active."""


class IdempotencyConflict(Conflict):
    """409 IDEMPOTENCY_CONFLICT: same key, different input. Use a new key for a new act."""


class PreconditionFailed(EStarsError):
    """412: the act cannot happen now (balance, quota, product unavailable, Telegram refused)."""


class InsufficientCredits(PreconditionFailed):
    """412 INSUFFICIENT_CREDITS: `available` credits, `required` credits."""

    @property
    def available(self) -> int:
        return int(self.fact("available", 0))

    @property
    def required(self) -> int:
        return int(self.fact("required", 0))


class QuotaExceeded(PreconditionFailed):
    """412 QUOTA_EXCEEDED: `resets_at` says when the window opens again."""

    @property
    def resets_at(self) -> Optional[str]:
        return self.fact("resetsAt")


class PayloadTooLarge(EStarsError):
    """413: the body is over 1 MiB."""


class TooManyRequests(EStarsError):
    """429: wait `retry_after` seconds."""


class ServiceUnavailable(EStarsError):
    """503: e-Stars' database is unavailable for a moment; retried with the same key."""


class ConnectionFailed(EStarsError):
    """No answer: e-Stars unreachable or slower than the client's timeout."""

    def __init__(self, detail: str) -> None:
        super().__init__({"status": 0, "code": "CONNECTION_FAILED", "title": "No answer", "detail": detail})


_BY_CODE = {
    "IDEMPOTENCY_CONFLICT": IdempotencyConflict,
    "INSUFFICIENT_CREDITS": InsufficientCredits,
    "QUOTA_EXCEEDED": QuotaExceeded,
}
_BY_STATUS = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    412: PreconditionFailed,
    413: PayloadTooLarge,
    429: TooManyRequests,
    503: ServiceUnavailable,
}


def error_from_problem(problem: Dict[str, Any], retry_after: Optional[float] = None) -> EStarsError:
    """The most specific error class for a problem: by domain code first, then by status."""
    cls = _BY_CODE.get(str(problem.get("code"))) or _BY_STATUS.get(int(problem.get("status") or 0), EStarsError)
    error = cls(problem)
    error.retry_after = retry_after  # type: ignore[attr-defined]
    return error
