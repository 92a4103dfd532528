"""The e-Stars REST client: standard library only (urllib, json), so it installs anywhere."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from contextlib import contextmanager
from typing import Any, Dict, Iterator, Mapping, Optional

from .errors import ConnectionFailed, EStarsError, error_from_problem
from .types import AccessCheck, Balance, ConsumeResult, Hold, Invoice, PaymentResult

__all__ = ["EStars", "Meter", "new_key"]

#: What any call may take before it is refused with ConnectionFailed.
DEFAULT_TIMEOUT_SECONDS = 10.0
#: The longest Retry-After the client waits for; longer ones are raised to the caller.
MAX_RETRY_WAIT_SECONDS = 30.0


def new_key(prefix: str = "py") -> str:
    """A fresh idempotency key. Derive keys from your update (chat, message id) to survive retries."""
    return f"{prefix}-{uuid.uuid4()}"


def _drop_none(fields: Mapping[str, Any]) -> Dict[str, Any]:
    return {name: value for name, value in fields.items() if value is not None}


class EStars:
    """`EStars(url, api_key)`: one method per bot procedure of `/api/v1`.

    Every mutation takes `idempotency_key` (a fresh one is made when you pass none, and reused by
    the retries of that call); the same key and input replays the first result, the same key with
    another input raises IdempotencyConflict. A 503 or 429 is retried after its Retry-After, up to
    `retries` times; every refusal raises a typed EStarsError carrying the problem's facts.
    """

    def __init__(
        self,
        url: str,
        api_key: str,
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        retries: int = 3,
        max_retry_wait: float = MAX_RETRY_WAIT_SECONDS,
    ) -> None:
        self.base = url.rstrip("/") + "/api/v1"
        self._api_key = api_key
        self.timeout = timeout
        self.retries = retries
        self.max_retry_wait = max_retry_wait

    def __repr__(self) -> str:  # never the key
        return f"EStars({self.base!r})"

    # -- the wire ------------------------------------------------------------------------------

    def request(self, method: str, path: str, body: Optional[Mapping[str, Any]] = None,
                query: Optional[Mapping[str, Any]] = None) -> Any:
        """One REST call; retries 503/429 (and a lost connection of an idempotent call)."""
        url = self.base + path
        if query:
            pairs = {k: _query_value(v) for k, v in query.items() if v is not None}
            if pairs:
                url += "?" + urllib.parse.urlencode(pairs)
        data = None if body is None else json.dumps(dict(body), allow_nan=False).encode("utf-8")
        headers = {"Authorization": f"Bearer {self._api_key}", "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        # GETs change nothing and mutations carry their idempotency key: both are safe to repeat.
        attempt = 0
        while True:
            try:
                return self._once(method, url, data, headers)
            except EStarsError as error:
                wait = getattr(error, "retry_after", None)
                retryable = error.status in (429, 503) or error.code == "CONNECTION_FAILED"
                if not retryable or attempt >= self.retries:
                    raise
                wait = 0.2 * (2 ** attempt) if wait is None else wait
                if wait > self.max_retry_wait:
                    raise
                attempt += 1
                time.sleep(wait)

    def _once(self, method: str, url: str, data: Optional[bytes], headers: Dict[str, str]) -> Any:
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as response:
                return json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as response:
            raise _error_of(response) from None
        except (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError) as error:
            reason = getattr(error, "reason", error)
            raise ConnectionFailed(f"{type(reason).__name__}: {reason}") from None

    def _mutate(self, path: str, fields: Mapping[str, Any], idempotency_key: Optional[str]) -> Any:
        return self.request("POST", path, {**_drop_none(fields), "idempotencyKey": idempotency_key or new_key()})

    # -- project and customers ------------------------------------------------------------------

    def whoami(self) -> Dict[str, str]:
        return self.request("GET", "/project")

    def upsert_customer(self, telegram_user_id: int, *, username: Optional[str] = None,
                        first_name: Optional[str] = None, last_name: Optional[str] = None,
                        language_code: Optional[str] = None) -> Dict[str, Any]:
        return self.request("POST", "/customers", _drop_none({
            "telegramUserId": telegram_user_id, "username": username, "firstName": first_name,
            "lastName": last_name, "languageCode": language_code}))

    def customer(self, telegram_user_id: int) -> Dict[str, Any]:
        return self.request("GET", f"/customers/{int(telegram_user_id)}")

    # -- credits and usage ----------------------------------------------------------------------

    def balance(self, telegram_user_id: int) -> Balance:
        return self.request("GET", f"/customers/{int(telegram_user_id)}/balance")

    def grant(self, telegram_user_id: int, amount: int, reason: str, *, source: str = "manual",
              expires_at: Optional[str] = None, idempotency_key: Optional[str] = None,
              metadata: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
        return self._mutate("/credits/grant", {
            "telegramUserId": telegram_user_id, "amount": amount, "reason": reason,
            "source": source, "expiresAt": expires_at, "metadata": metadata}, idempotency_key)

    def consume(self, telegram_user_id: int, amount: int, reason: str, *,
                idempotency_key: Optional[str] = None,
                metadata: Optional[Mapping[str, Any]] = None) -> ConsumeResult:
        return self._mutate("/usage/consume", {
            "telegramUserId": telegram_user_id, "amount": amount, "reason": reason,
            "metadata": metadata}, idempotency_key)

    def reserve(self, telegram_user_id: int, amount: int, reason: str, *,
                ttl_seconds: Optional[int] = None, idempotency_key: Optional[str] = None,
                metadata: Optional[Mapping[str, Any]] = None) -> Hold:
        return self._mutate("/usage/reserve", {
            "telegramUserId": telegram_user_id, "amount": amount, "reason": reason,
            "ttlSeconds": ttl_seconds, "metadata": metadata}, idempotency_key)

    def settle(self, hold_id: str, amount: int, *, reason: Optional[str] = None,
               idempotency_key: Optional[str] = None,
               metadata: Optional[Mapping[str, Any]] = None) -> ConsumeResult:
        return self._mutate("/usage/settle", {
            "holdId": hold_id, "amount": amount, "reason": reason, "metadata": metadata},
            idempotency_key)

    def release(self, hold_id: str, *, reason: Optional[str] = None,
                idempotency_key: Optional[str] = None) -> Dict[str, Any]:
        return self._mutate("/usage/release", {"holdId": hold_id, "reason": reason}, idempotency_key)

    @contextmanager
    def meter(self, telegram_user_id: int, estimate: int, reason: str, *,
              idempotency_key: Optional[str] = None) -> Iterator["Meter"]:
        """Holds `estimate` credits for the block; settles what `meter.cost` says at the end
        (the estimate if unset), and releases the hold when the block raises."""
        key = idempotency_key or new_key("meter")
        hold = self.reserve(telegram_user_id, estimate, reason, idempotency_key=f"{key}:hold")
        meter = Meter(hold, estimate)
        try:
            yield meter
        except BaseException:
            try:
                self.release(hold["holdId"], idempotency_key=f"{key}:release")
            except EStarsError:
                pass  # the hold expires by itself; the block's own exception is what matters
            raise
        meter.result = self.settle(hold["holdId"], meter.cost, idempotency_key=f"{key}:settle")

    # -- features, access, entitlements ---------------------------------------------------------

    def check(self, telegram_user_id: int, feature: str, quantity: int = 1) -> AccessCheck:
        return self.request("GET", "/access/check", query={
            "telegramUserId": telegram_user_id, "feature": feature, "quantity": quantity})

    def consume_feature(self, telegram_user_id: int, feature: str, quantity: int, *,
                        idempotency_key: Optional[str] = None, reason: Optional[str] = None,
                        metadata: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
        return self._mutate("/usage/features/consume", {
            "telegramUserId": telegram_user_id, "feature": feature, "quantity": quantity,
            "reason": reason, "metadata": metadata}, idempotency_key)

    def reserve_feature(self, telegram_user_id: int, feature: str, quantity: int, *,
                        ttl_seconds: Optional[int] = None, idempotency_key: Optional[str] = None,
                        reason: Optional[str] = None) -> Dict[str, Any]:
        return self._mutate("/usage/features/reserve", {
            "telegramUserId": telegram_user_id, "feature": feature, "quantity": quantity,
            "ttlSeconds": ttl_seconds, "reason": reason}, idempotency_key)

    def settle_feature(self, reservation_id: str, quantity: int, *,
                       idempotency_key: Optional[str] = None) -> Dict[str, Any]:
        return self._mutate("/usage/features/settle", {
            "reservationId": reservation_id, "quantity": quantity}, idempotency_key)

    def release_feature(self, reservation_id: str, *,
                        idempotency_key: Optional[str] = None) -> Dict[str, Any]:
        return self._mutate("/usage/features/release", {"reservationId": reservation_id},
                            idempotency_key)

    def entitlements(self, telegram_user_id: int) -> Any:
        return self.request("GET", f"/customers/{int(telegram_user_id)}/entitlements")

    def features(self) -> Any:
        return self.request("GET", "/features")

    def quotas(self, feature_key: Optional[str] = None) -> Any:
        return self.request("GET", "/quotas", query={"featureKey": feature_key})

    def products(self) -> Any:
        return self.request("GET", "/products")

    # -- ledger and events ----------------------------------------------------------------------

    def ledger(self, telegram_user_id: int, *, cursor: Optional[str] = None,
               limit: Optional[int] = None) -> Dict[str, Any]:
        return self.request("GET", f"/customers/{int(telegram_user_id)}/ledger",
                            query={"cursor": cursor, "limit": limit})

    def timeline(self, telegram_user_id: int, *, cursor: Optional[str] = None,
                 limit: Optional[int] = None) -> Dict[str, Any]:
        return self.request("GET", f"/customers/{int(telegram_user_id)}/timeline",
                            query={"cursor": cursor, "limit": limit})

    def events(self, *, cursor: Optional[str] = None, limit: Optional[int] = None) -> Dict[str, Any]:
        return self.request("GET", "/events", query={"cursor": cursor, "limit": limit})

    # -- invoices and payments (for a bot that handles its own Telegram updates) -----------------

    def create_invoice(self, telegram_user_id: int, product_key: str, *,
                       first_name: Optional[str] = None, username: Optional[str] = None,
                       language_code: Optional[str] = None,
                       ttl_seconds: Optional[int] = None) -> Invoice:
        """`sendInvoice` parameters (packs, unlocks) or an `invoiceLink` (subscriptions)."""
        return self.request("POST", "/invoices", _drop_none({
            "telegramUserId": telegram_user_id, "productKey": product_key,
            "firstName": first_name, "username": username, "languageCode": language_code,
            "ttlSeconds": ttl_seconds}))

    def precheck(self, pre_checkout_query: Mapping[str, Any]) -> Dict[str, Any]:
        """Decide a pre_checkout_query: answer Telegram with `ok` and `errorMessage`."""
        return self.request("POST", "/checkout/precheck", dict(pre_checkout_query))

    def record_payment(self, successful_payment: Mapping[str, Any],
                       from_user: Mapping[str, Any]) -> PaymentResult:
        """Record a successful_payment once per charge id; a repeat answers `duplicate: True`."""
        return self.request("POST", "/payments", {
            "successfulPayment": dict(successful_payment), "from": dict(from_user)})

    def record_refund(self, refunded_payment: Mapping[str, Any],
                      from_user: Mapping[str, Any]) -> Dict[str, Any]:
        return self.request("POST", "/payments/refunded", {
            "refundedPayment": dict(refunded_payment), "from": dict(from_user)})

    def refund(self, telegram_payment_charge_id: str, reason: str) -> Dict[str, Any]:
        charge = urllib.parse.quote(telegram_payment_charge_id, safe="")
        return self.request("POST", f"/payments/{charge}/refund", {"reason": reason})

    def payment(self, telegram_payment_charge_id: str) -> Dict[str, Any]:
        charge = urllib.parse.quote(telegram_payment_charge_id, safe="")
        return self.request("GET", f"/payments/{charge}")

    def payments(self, *, telegram_user_id: Optional[int] = None, status: Optional[str] = None,
                 flagged: Optional[bool] = None, cursor: Optional[str] = None,
                 limit: Optional[int] = None) -> Dict[str, Any]:
        return self.request("GET", "/payments", query={
            "telegramUserId": telegram_user_id, "status": status, "flagged": flagged,
            "cursor": cursor, "limit": limit})

    def subscriptions(self, telegram_user_id: int) -> Any:
        return self.request("GET", f"/customers/{int(telegram_user_id)}/subscriptions")

    def cancel_subscription(self, subscription_id: str, *, canceled: bool = True) -> Dict[str, Any]:
        sub = urllib.parse.quote(subscription_id, safe="")
        return self.request("POST", f"/subscriptions/{sub}/cancel", {"canceled": canceled})


class Meter:
    """Inside `with client.meter(...) as m:` set `m.cost` to the actual credits (0 allowed)."""

    def __init__(self, hold: Hold, estimate: int) -> None:
        self.hold = hold
        self.cost = estimate
        self.result: Optional[ConsumeResult] = None


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _error_of(response: urllib.error.HTTPError) -> EStarsError:
    raw = response.read()
    try:
        problem = json.loads(raw.decode("utf-8"))
        if not isinstance(problem, dict):
            raise ValueError("not an object")
    except ValueError:
        problem = {"status": response.code, "code": "HTTP_ERROR", "title": response.reason,
                   "detail": raw[:200].decode("utf-8", "replace")}
    problem.setdefault("status", response.code)
    retry_after = response.headers.get("Retry-After")
    wait: Optional[float] = None
    if retry_after is not None:
        try:
            wait = max(0.0, float(retry_after))
        except ValueError:
            wait = None
    return error_from_problem(problem, wait)
