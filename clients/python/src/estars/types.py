"""The shapes of the answers the client reads most (TypedDicts: plain dicts at run time).

Fields not listed here are still in the dict; the OpenAPI document at `/api/v1/openapi.json`
lists every route.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

try:  # Python 3.8+
    from typing import TypedDict
except ImportError:  # pragma: no cover
    TypedDict = dict  # type: ignore[misc,assignment]


class Balance(TypedDict, total=False):
    available: int
    held: int
    debt: int
    lots: List[Dict[str, Any]]
    holds: List[Dict[str, Any]]


class ConsumeResult(TypedDict, total=False):
    available: int
    replayed: bool


class Hold(TypedDict, total=False):
    holdId: str
    amount: int
    expiresAt: str
    available: int


class AccessCheck(TypedDict, total=False):
    allowed: bool
    reason: Optional[str]
    costCredits: int
    available: int


class Invoice(TypedDict, total=False):
    orderId: str
    payload: str
    sendInvoice: Optional[Dict[str, Any]]
    invoiceLink: Optional[str]


class PaymentResult(TypedDict, total=False):
    paymentId: int
    duplicate: bool
    credits: int
    available: int
