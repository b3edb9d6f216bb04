"""``PosTerminal``: a till of a seeded store, serving the customers who come to it.

A FastHttpUser: the same HTTP user as HttpUser on geventhttpclient, a fraction of the CPU
per request, which matters on a 2-core machine shared with the server. Per task run it
serves one customer, as ``[run.pos_mix]`` draws: a one-shot purchase with or without
``redeem_points``, a two-phase checkout (open, hold, complete), or (about 2 %) a refund of
one of its own earlier purchases. Every write carries an ``Idempotency-Key``; baskets have
items with categories (coffee, bakery, tea, merch) from ``MENU``. A sale for a member whose
phone this process follows must be pushed to it in time (``users.pushes``).

``LOADTEST_TILL_DROP`` = a share (e.g. 0.05): that share of a till's task runs starts
without its keep-alive connection: half of them close it on the client side before the
first request, the other half send that request with ``Connection: close``.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from locust import FastHttpUser, task

from loadtests.users.config import RNG, RUN, TILL_DROP
from loadtests.users.pacing import poisson_pacing
from loadtests.users.pushes import expect_push
from loadtests.users.reporting import checked_request
from loadtests.users.shared import Shared, next_turn

# A small menu: (sku, name, category, unit price in kopecks).
MENU = [
    ("espresso", "Espresso", "coffee", 12000),
    ("americano", "Americano", "coffee", 15000),
    ("cappuccino", "Cappuccino", "coffee", 18000),
    ("latte", "Latte", "coffee", 20000),
    ("flat-white", "Flat white", "coffee", 22000),
    ("croissant", "Croissant", "bakery", 15000),
    ("cinnamon-bun", "Cinnamon bun", "bakery", 12000),
    ("cheesecake", "Cheesecake", "bakery", 25000),
    ("green-tea", "Green tea", "tea", 14000),
    ("chai-latte", "Chai latte", "tea", 19000),
    ("beans-250", "Beans 250 g", "merch", 90000),
]


class PosTerminal(FastHttpUser):
    weight = int(RUN["weights"]["PosTerminal"])
    wait_time = poisson_pacing(float(RUN["pace"]["PosTerminal"]))
    store: dict[str, Any]
    terminal: dict[str, Any]
    sales: list[dict[str, Any]]  # this till's purchases: id, amount, refunded so far
    close_next = False  # LOADTEST_TILL_DROP: the next request says Connection: close

    def on_start(self) -> None:
        credentials = Shared.load(self.environment)
        terminals = [(s, t) for s in credentials["stores"] for t in s["terminals"]]
        turn = next_turn(Shared.terminal_counter, self.environment)
        self.store, self.terminal = terminals[turn % len(terminals)]
        self.starting_points = int(credentials.get("starting_points", 0))
        self.redeem_share = int(credentials.get("max_redeem_share_percent", 50))
        self.sales = []
        mix = RUN["pos_mix"]
        self.actions = list(mix)
        self.action_weights = [float(mix[a]) for a in self.actions]

    @task
    def serve_customer(self) -> None:
        if TILL_DROP > 0 and RNG.random() < TILL_DROP:
            if RNG.random() < 0.5:
                self.client.client.close()  # the till drops its idle keep-alive connection
            else:
                self.close_next = True  # or asks the server to close it after the answer
        action = RNG.choices(self.actions, self.action_weights)[0]
        if action == "refund" and self.sales:
            self.refund()
            return
        member = self.pick_member()
        if member is None:
            return
        try:
            if action == "checkout":
                self.checkout(member)
            else:
                self.purchase(member, redeem=action == "purchase_redeem")
        finally:
            Shared.busy.discard(member["id"])

    # -- helpers --------------------------------------------------------------------------

    def pick_member(self) -> dict[str, Any] | None:
        """A member at the till: often one with the app open here, never one already at
        another till of this process."""
        followed = Shared.followed
        for _ in range(10):
            if followed and RNG.random() < float(RUN["member"]["followed_share"]):
                member = RNG.choice(list(followed.values()))
            else:
                member = RNG.choice(Shared.members)
            if member["id"] not in Shared.busy:
                Shared.busy.add(member["id"])
                return member
        return None

    def basket(self) -> tuple[int, list[dict[str, Any]]]:
        items = []
        for sku, name, category, price in RNG.sample(MENU, RNG.randint(1, 3)):
            quantity = 1 if category == "merch" else RNG.randint(1, 2)
            items.append(
                {
                    "sku": sku,
                    "name": name,
                    "category": category,
                    "quantity": quantity,
                    "unit_price": price,
                }
            )
        return sum(i["quantity"] * i["unit_price"] for i in items), items

    def points_to_spend(self, member_id: str, amount: int) -> int:
        cap = amount * self.redeem_share // 10000
        available = Shared.available.get(member_id, self.starting_points)
        top = min(cap, available, 200)
        return RNG.randint(1, top) if top >= 1 else 0

    def post(self, path: str, body: dict[str, Any], name: str, expect: int) -> Any:
        headers = {"X-Api-Key": self.terminal["key"], "Idempotency-Key": uuid.uuid4().hex}
        if self.close_next:
            headers["Connection"] = "close"
            self.close_next = False
        answer = checked_request(
            self.client, "POST", path, expect=expect, name=name, json=body, headers=headers
        )
        if answer is None:
            return None
        balance = answer.get("balance")
        member_id = answer.get("member_id")
        if balance and member_id:
            Shared.available[str(member_id)] = int(balance["available"])
        return answer

    def sold(self, member: dict[str, Any], sale: dict[str, Any], sent: float) -> None:
        self.sales.append(
            {
                "id": sale["purchase_id"],
                "member": member["id"],
                "amount": sale["amount"],
                "refunded": 0,
            }
        )
        del self.sales[:-200]
        moved = sale.get("points_earned", 0) or sale.get("points_redeemed", 0)
        # Only a sale sent while the member's socket was open: the push of one sent before
        # the socket (re)opened may come with the replay of the resume, not live.
        opened = Shared.opened_at.get(member["id"]) if member["id"] in Shared.followed else None
        if moved and opened is not None and opened < sent:
            expect_push(self.environment, str(sale["purchase_id"]), member["id"], sent)

    # -- what a till does -----------------------------------------------------------------

    def purchase(self, member: dict[str, Any], *, redeem: bool) -> None:
        amount, items = self.basket()
        body: dict[str, Any] = {
            "customer": {"card_number": member["card_number"]},
            "external_id": f"r-{uuid.uuid4().hex}",
            "amount": amount,
            "currency": self.store["currency"],
            "items": items,
        }
        name = "/v1/purchases"
        if redeem:
            points = self.points_to_spend(member["id"], amount)
            if points:
                body["redeem_points"] = points
                name = "/v1/purchases (redeem)"
        sent = time.monotonic()
        sale = self.post("/v1/purchases", body, name, 201)
        if sale is not None:
            self.sold(member, sale, sent)

    def checkout(self, member: dict[str, Any]) -> None:
        amount, items = self.basket()
        opened = self.post(
            "/v1/checkouts",
            {
                "customer": {"card_number": member["card_number"]},
                "external_id": f"c-{uuid.uuid4().hex}",
                "amount": amount,
                "currency": self.store["currency"],
                "items": items,
            },
            "/v1/checkouts",
            201,
        )
        if opened is None:
            return
        checkout_id = opened["checkout_id"]
        available = int(opened["balance"]["available"])
        top = min(int(opened["max_redeemable_points"]), available, 200)
        points = RNG.randint(1, top) if top >= 1 else 0
        held = self.post(
            f"/v1/checkouts/{checkout_id}/hold",
            {"points": points},
            "/v1/checkouts/{id}/hold",
            200,
        )
        if held is None:
            return
        sent = time.monotonic()
        completed = self.post(
            f"/v1/checkouts/{checkout_id}/complete",
            {"payment_ref": f"pay-{uuid.uuid4().hex[:16]}", "paid_amount": amount - points * 100},
            "/v1/checkouts/{id}/complete",
            200,
        )
        if completed is not None and completed.get("purchase"):
            self.sold(member, completed["purchase"], sent)

    def refund(self) -> None:
        open_sales = [s for s in self.sales if s["refunded"] < s["amount"]]
        if not open_sales:
            return
        sale = RNG.choice(open_sales)
        left = sale["amount"] - sale["refunded"]
        amount = left if RNG.random() < 0.5 else max(1, left // 2)
        answer = self.post(
            f"/v1/purchases/{sale['id']}/refunds",
            {"amount": amount, "reason": "load test return"},
            "/v1/purchases/{id}/refunds",
            201,
        )
        if answer is not None:
            sale["refunded"] = int(answer["refunded_amount"])
            Shared.available[sale["member"]] = int(answer["balance"]["available"])
