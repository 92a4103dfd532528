"""A Python bot, end to end: a user sends /buy, the bot issues the invoice through e-Stars and sends
it through the (sandbox) Bot API, the user pays, the bot decides the pre-checkout and records the
payment through e-Stars, then spends credits and is refused when they run out.

Needs ESTARS_URL, ESTARS_API_KEY, ESTARS_SANDBOX_URL, ESTARS_SANDBOX_CONTROL (the sandbox's
control `Authorization` value) and ESTARS_BOT_TOKEN; apps/server/test/python-client.test.ts sets
them. Only the standard library: the Bot API calls are plain urllib too.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import unittest
import urllib.request
from typing import Any, Dict, List

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))

from estars import EStars, InsufficientCredits, NotFound  # noqa: E402

SANDBOX = os.environ.get("ESTARS_SANDBOX_URL", "")
CONTROL = os.environ.get("ESTARS_SANDBOX_CONTROL", "")
TOKEN = os.environ.get("ESTARS_BOT_TOKEN", "")
USER = 2_000_001


def post(url: str, body: Dict[str, Any], headers: Dict[str, str]) -> Any:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", **headers})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def bot_api(method: str, **params: Any) -> Any:
    answer = post(f"{SANDBOX}/bot{TOKEN}/{method}", params, {})
    if not answer.get("ok"):
        raise RuntimeError(f"{method}: {answer}")
    return answer["result"]


def control(path: str, **body: Any) -> Any:
    answer = post(f"{SANDBOX}/sandbox/{path}", body, {"Authorization": CONTROL})
    if not answer.get("ok"):
        raise RuntimeError(f"sandbox {path}: {answer}")
    return answer["result"]


class PythonBot:
    """The handlers a python-telegram-bot or aiogram bot would have, over plain getUpdates."""

    def __init__(self, billing: EStars) -> None:
        self.billing = billing
        self.offset = 0
        self.replies: List[str] = []

    def poll_once(self) -> None:
        for update in bot_api("getUpdates", offset=self.offset, timeout=1):
            self.offset = update["update_id"] + 1
            if "pre_checkout_query" in update:
                query = update["pre_checkout_query"]
                verdict = self.billing.precheck(query)
                bot_api("answerPreCheckoutQuery", pre_checkout_query_id=query["id"], ok=verdict["ok"],
                        **({"error_message": verdict["errorMessage"]} if not verdict["ok"] else {}))
            elif "message" in update:
                self.on_message(update["message"])

    def on_message(self, message: Dict[str, Any]) -> None:
        user = message["from"]
        if "successful_payment" in message:
            self.billing.record_payment(message["successful_payment"], user)
            self.replies.append("paid")
        elif message.get("text") == "/buy":
            invoice = self.billing.create_invoice(user["id"], "pack_m", first_name=user.get("first_name"))
            bot_api("sendInvoice", **invoice["sendInvoice"])
        elif message.get("text", "").startswith("/ask"):
            key = f"ask-{message['chat']['id']}-{message['message_id']}"
            try:
                spent = self.billing.consume(user["id"], 700, "AI answer", idempotency_key=key)
                self.replies.append(f"answered, {spent['available']} left")
            except InsufficientCredits as refused:
                self.replies.append(f"refused: {refused.available} of {refused.required}")


class BotFlow(unittest.TestCase):
    def test_buy_pay_through_telegram_consume_and_refusal(self) -> None:
        for name in ("ESTARS_URL", "ESTARS_API_KEY", "ESTARS_SANDBOX_URL", "ESTARS_SANDBOX_CONTROL", "ESTARS_BOT_TOKEN"):
            if not os.environ.get(name):
                raise RuntimeError(f"set {name} (see apps/server/test/python-client.test.ts)")
        bot = PythonBot(EStars(os.environ["ESTARS_URL"], os.environ["ESTARS_API_KEY"]))
        try:
            before = bot.billing.balance(USER)["available"]
        except NotFound:  # a customer e-Stars has not met yet
            before = 0

        control("messages", userId=USER, text="/buy", botToken=TOKEN)
        bot.poll_once()
        invoice = control("messages/wait", userId=USER, invoice=True, botToken=TOKEN, timeoutMs=10_000)
        paying: Dict[str, Any] = {}
        payer = threading.Thread(target=lambda: paying.update(
            control("payments", userId=USER, messageId=invoice["message_id"], botToken=TOKEN)))
        payer.start()
        while payer.is_alive() or "paid" not in bot.replies:
            bot.poll_once()
            if not payer.is_alive() and paying.get("status") != "paid":
                break
        payer.join()
        self.assertEqual(paying.get("status"), "paid", paying)
        self.assertEqual(bot.billing.balance(USER)["available"], before + 1200)

        control("messages", userId=USER, text="/ask what is a Star?", botToken=TOKEN)
        control("messages", userId=USER, text="/ask and another?", botToken=TOKEN)
        while len(bot.replies) < 3:
            bot.poll_once()
        self.assertEqual(bot.replies[1], f"answered, {before + 500} left")
        if before + 500 < 700:
            self.assertEqual(bot.replies[2], f"refused: {before + 500} of 700")
        charge = paying["chargeId"]
        self.assertEqual(bot.billing.payment(charge)["status"], "paid")


if __name__ == "__main__":
    unittest.main()
