"""verify_webhook against a vector the server's signer made (packages/billing/src/webhooks/signing.ts),
so the Python check and the TypeScript signature agree byte for byte; no server needed."""

from __future__ import annotations

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))

from estars import WebhookSignatureError, verify_webhook  # noqa: E402

SECRET = "whsec_ZS1zdGFycyB0ZXN0IHZlY3Rvciwgbm90IGEga2V5IQ=="  # a test vector, not a key
BODY = '{"id":"evt_7","type":"balance.low","timestamp":"2026-12-02T21:00:00.000Z","data":{"available":3}}'
HEADERS = {
    "Webhook-Id": "evt_7",
    "Webhook-Timestamp": "1796000000",
    "Webhook-Signature": "v1,Oaqanx2yPsJOYCH0xbQd2ojYaiO9n3UnhLpiwMZCsHU=",
}
SIGNED_AT = 1796000000


class VerifyWebhook(unittest.TestCase):
    def test_accepts_the_servers_signature(self) -> None:
        event = verify_webhook(SECRET, HEADERS, BODY.encode("utf-8"), now=SIGNED_AT + 10)
        self.assertEqual(event["type"], "balance.low")
        self.assertEqual(event["data"], {"available": 3})

    def test_refuses_a_tampered_body_another_secret_and_an_old_capture(self) -> None:
        with self.assertRaisesRegex(WebhookSignatureError, "no signature matches"):
            verify_webhook(SECRET, HEADERS, BODY.replace("3", "30"), now=SIGNED_AT)
        with self.assertRaisesRegex(WebhookSignatureError, "no signature matches"):
            verify_webhook("whsec_" + "A" * 32, HEADERS, BODY, now=SIGNED_AT)
        with self.assertRaisesRegex(WebhookSignatureError, "too far from now"):
            verify_webhook(SECRET, HEADERS, BODY, now=SIGNED_AT + 3600)
        with self.assertRaisesRegex(WebhookSignatureError, "missing"):
            verify_webhook(SECRET, {"webhook-id": "evt_7"}, BODY, now=SIGNED_AT)

    def test_accepts_either_secret_during_a_rotation(self) -> None:
        event = verify_webhook(["whsec_" + "A" * 32, SECRET], HEADERS, BODY, now=SIGNED_AT)
        self.assertEqual(event["id"], "evt_7")


# A rotation's overlap, from the server's signer (webhookHeaders with [new, previous]): two v1
# signatures; after the overlap only the new secret signs.
NEW_SECRET = "whsec_bmV3IGUtc3RhcnMgdGVzdCB2ZWN0b3IsIG5vdCBhIGtleQ=="  # a test vector, not a key
ROTATED_BODY = (
    '{"id":"evt_8","type":"payment.refunded","timestamp":"2026-12-03T10:00:00.000Z",'
    '"data":{"paymentId":3}}'
)
DURING_OVERLAP = {
    "webhook-id": "evt_8",
    "webhook-timestamp": "1796000100",
    "webhook-signature": "v1,vqKijP6sCcg7c2OTW6MJPzNG5QdAAJJNopg574UMeTk= "
    "v1,jAwoUe2C76tTDB0i3KcZSxKdzb/VP/SuivUPpMxQJ2k=",
}
AFTER_OVERLAP = {
    **DURING_OVERLAP,
    "webhook-signature": "v1,vqKijP6sCcg7c2OTW6MJPzNG5QdAAJJNopg574UMeTk=",
}


class RotatedSecret(unittest.TestCase):
    def test_a_receiver_on_the_previous_secret_verifies_during_the_overlap_only(self) -> None:
        at = 1796000100
        for secret, headers in [
            (SECRET, DURING_OVERLAP),
            (NEW_SECRET, DURING_OVERLAP),
            (NEW_SECRET, AFTER_OVERLAP),
        ]:
            self.assertEqual(verify_webhook(secret, headers, ROTATED_BODY, now=at)["id"], "evt_8")
        with self.assertRaisesRegex(WebhookSignatureError, "no signature matches"):
            verify_webhook(SECRET, AFTER_OVERLAP, ROTATED_BODY, now=at)


if __name__ == "__main__":
    unittest.main()
