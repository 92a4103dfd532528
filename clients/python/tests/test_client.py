"""The client against a live e-Stars server (ESTARS_URL, ESTARS_API_KEY, ESTARS_OTHER_API_KEY:
apps/server/test/python-client.test.ts starts one and runs these), plus its retry and timeout
against a small local HTTP server."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import unittest
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))

from estars import (  # noqa: E402
    BadRequest,
    ConnectionFailed,
    EStars,
    IdempotencyConflict,
    InsufficientCredits,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
    new_key,
)

URL = os.environ.get("ESTARS_URL", "")
API_KEY = os.environ.get("ESTARS_API_KEY", "")
OTHER_KEY = os.environ.get("ESTARS_OTHER_API_KEY", "")


def fresh_user() -> int:
    return 3_000_000 + uuid.uuid4().int % 1_000_000_000


class LiveServer(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        if not URL or not API_KEY:
            raise RuntimeError("set ESTARS_URL and ESTARS_API_KEY (see apps/server/test/python-client.test.ts)")
        cls.client = EStars(URL, API_KEY, timeout=10)

    def buy_pack(self, user: int) -> str:
        """What a bot does on /buy and on the successful_payment Telegram sends it."""
        invoice = self.client.create_invoice(user, "pack_m", first_name="Py")
        self.assertEqual(invoice["sendInvoice"]["currency"], "XTR")
        sender = {"id": user, "is_bot": False, "first_name": "Py"}
        verdict = self.client.precheck({"id": new_key("q"), "from": sender, "currency": "XTR",
                                        "total_amount": 100, "invoice_payload": invoice["payload"]})
        self.assertTrue(verdict["ok"])
        charge = new_key("stx")
        paid = {"currency": "XTR", "total_amount": 100, "invoice_payload": invoice["payload"],
                "telegram_payment_charge_id": charge}
        first = self.client.record_payment(paid, sender)
        self.assertEqual((first["duplicate"], first["credits"]), (False, 1200))
        self.assertTrue(self.client.record_payment(paid, sender)["duplicate"])
        return charge

    def test_a_bot_buys_spends_and_is_refused_when_the_credits_run_out(self) -> None:
        user = fresh_user()
        self.client.upsert_customer(user, first_name="Py", username="py_user")
        self.assertEqual(self.client.customer(user)["telegramUserId"], user)
        charge = self.buy_pack(user)
        self.assertEqual(self.client.balance(user)["available"], 1200)
        self.assertEqual(self.client.payment(charge)["telegramPaymentChargeId"], charge)
        self.assertIn(charge, json.dumps(self.client.payments(telegram_user_id=user, status="paid")))

        key = new_key()
        spent = self.client.consume(user, 1000, "AI answer", idempotency_key=key)
        self.assertEqual(spent["available"], 200)
        self.assertEqual(self.client.consume(user, 1000, "AI answer", idempotency_key=key), spent)
        with self.assertRaises(IdempotencyConflict) as conflict:
            self.client.consume(user, 999, "AI answer", idempotency_key=key)
        self.assertEqual((conflict.exception.status, conflict.exception.code), (409, "IDEMPOTENCY_CONFLICT"))

        with self.assertRaises(InsufficientCredits) as refused:
            self.client.consume(user, 500, "too long an answer")
        self.assertEqual((refused.exception.status, refused.exception.available, refused.exception.required),
                         (412, 200, 500))

        timeline = self.client.timeline(user)
        self.assertIn("AI answer", json.dumps(timeline))
        self.assertGreaterEqual(len(self.client.ledger(user, limit=2)["entries"]), 2)

    def test_reserve_settle_release_and_the_meter_releases_on_an_exception(self) -> None:
        user = fresh_user()
        self.client.grant(user, 100, "welcome", source="promo")
        hold = self.client.reserve(user, 60, "image")
        self.assertEqual(self.client.settle(hold["holdId"], 25)["available"], 75)
        other = self.client.reserve(user, 30, "image")
        self.client.release(other["holdId"])
        self.assertEqual(self.client.balance(user)["available"], 75)

        with self.client.meter(user, 50, "AI answer") as meter:
            self.assertEqual(self.client.balance(user)["available"], 25)
            meter.cost = 10
        self.assertEqual(meter.result["available"], 65)
        with self.assertRaises(RuntimeError):
            with self.client.meter(user, 50, "AI answer"):
                raise RuntimeError("the model failed")
        self.assertEqual(self.client.balance(user)["available"], 65)

    def test_features_access_events_and_catalog(self) -> None:
        user = fresh_user()
        self.client.grant(user, 100, "welcome", source="promo")
        self.assertIn("ai.tokens", json.dumps(self.client.features()))
        self.assertTrue(self.client.check(user, "image")["allowed"])
        self.client.consume_feature(user, "image", 1)
        reservation = self.client.reserve_feature(user, "ai.tokens", 500)
        self.client.settle_feature(reservation["reservationId"], 200)
        self.assertIn("pack_m", json.dumps(self.client.products()))
        self.assertIn("events", self.client.events(limit=5))
        self.assertIsInstance(self.client.entitlements(user), (list, dict))
        self.assertEqual(self.client.whoami()["projectId"], self.client.whoami()["projectId"])

    def test_refusals_are_typed(self) -> None:
        with self.assertRaises(Unauthorized):
            EStars(URL, "esk_wrong").balance(1)
        with self.assertRaises(BadRequest) as bad:
            self.client.consume(fresh_user(), -1, "negative")
        self.assertEqual(bad.exception.field, "amount")
        with self.assertRaises(BadRequest) as nul:
            self.client.consume(fresh_user(), 1, "a\u0000b")
        self.assertEqual(nul.exception.field, "reason")
        with self.assertRaises(NotFound):
            self.client.settle(str(uuid.uuid4()), 1)
        if OTHER_KEY:
            charge = self.buy_pack(fresh_user())
            with self.assertRaises(NotFound):
                EStars(URL, OTHER_KEY).payment(charge)


class Scripted(BaseHTTPRequestHandler):
    """Answers from a script: (status, headers, body, delay seconds) per request."""

    script: list = []
    seen: list = []

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        type(self).seen.append(json.loads(self.rfile.read(length) or b"null"))
        status, headers, body, delay = type(self).script.pop(0)
        time.sleep(delay)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        payload = json.dumps(body).encode()
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        try:
            self.wfile.write(payload)
        except OSError:
            pass

    def log_message(self, *args: object) -> None:
        pass


class RetryAndTimeout(unittest.TestCase):
    def setUp(self) -> None:
        Scripted.script, Scripted.seen = [], []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Scripted)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def tearDown(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def test_a_503_is_retried_after_retry_after_with_the_same_idempotency_key(self) -> None:
        unavailable = {"status": 503, "code": "SERVICE_UNAVAILABLE", "detail": "database"}
        problem = {"Content-Type": "application/problem+json", "Retry-After": "0"}
        Scripted.script = [(503, problem, unavailable, 0), (503, problem, unavailable, 0),
                           (200, {"Content-Type": "application/json"}, {"available": 5}, 0)]
        answer = EStars(self.url, "k").consume(1, 1, "x")
        self.assertEqual(answer, {"available": 5})
        keys = {body["idempotencyKey"] for body in Scripted.seen}
        self.assertEqual((len(Scripted.seen), len(keys)), (3, 1))

    def test_after_the_last_retry_the_503_is_raised(self) -> None:
        problem = {"Content-Type": "application/problem+json", "Retry-After": "0"}
        Scripted.script = [(503, problem, {"status": 503, "code": "SERVICE_UNAVAILABLE"}, 0)] * 2
        with self.assertRaises(ServiceUnavailable) as raised:
            EStars(self.url, "k", retries=1).consume(1, 1, "x")
        self.assertEqual(raised.exception.retry_after, 0.0)

    def test_the_meter_raises_the_blocks_exception_even_when_the_release_fails(self) -> None:
        problem = {"Content-Type": "application/problem+json", "Retry-After": "0"}
        Scripted.script = [(200, {"Content-Type": "application/json"}, {"holdId": "h-1"}, 0),
                           (503, problem, {"status": 503, "code": "SERVICE_UNAVAILABLE"}, 0)]
        with self.assertRaises(RuntimeError):
            with EStars(self.url, "k", retries=0).meter(1, 10, "x"):
                raise RuntimeError("the model failed")
        self.assertEqual(Scripted.seen[1]["holdId"], "h-1")

    def test_a_slow_answer_is_a_timeout(self) -> None:
        Scripted.script = [(200, {}, {}, 1.0)]
        started = time.monotonic()
        with self.assertRaises(ConnectionFailed):
            EStars(self.url, "k", timeout=0.2, retries=0).consume(1, 1, "x")
        self.assertLess(time.monotonic() - started, 0.9)


if __name__ == "__main__":
    unittest.main()
