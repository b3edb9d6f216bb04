"""What happens at the till and in the app: purchases, refunds, checkouts, orders, payments."""

from __future__ import annotations

from piccolo.columns import JSONB, UUID, BigInt, Integer, Timestamptz, Varchar
from piccolo.constraints import Check, Unique
from piccolo.table import Table

from db.ids import new_id
from db.tables.members import Member
from db.tables.references import reference
from db.tables.stores import Store, Terminal


class Purchase(Table, tablename="purchase"):
    id = UUID(primary_key=True, default=new_id)
    store = reference(Store)
    terminal = reference(Terminal, null=True, help_text="None: paid in the app.")
    # Indexed with created_at by hand (purchase_member_recent, the hand-written migration).
    member = reference(Member)
    external_id = Varchar(length=100, help_text="The till's own receipt id.")
    amount = BigInt(help_text="Check total before loyalty discount, minor units.")
    paid_amount = BigInt(help_text="Amount actually paid, minor units.")
    currency = Varchar(length=3)
    points_earned = BigInt(default=0)
    points_redeemed = BigInt(default=0)
    request_hash = Varchar(length=64, help_text="Hash of the request that created it.")
    result = JSONB(help_text="The response body returned for this purchase.")
    checkout = UUID(null=True, default=None, help_text="The checkout it completed, if any.")
    rules_version = Integer(default=0)
    refunded_amount = BigInt(default=0, help_text="Gross value refunded so far.")
    points_reversed = BigInt(default=0, help_text="Earned points taken back by refunds.")
    points_returned = BigInt(default=0, help_text="Redeemed points given back by refunds.")
    lines = JSONB(
        default="[]",
        help_text="The check's items with the points each earned (backend.sales.lines); "
        "[] for a sale by amount only.",
    )
    refunded_lines = JSONB(default="{}", help_text="{sku: units refunded so far}.")
    idempotency_key = Varchar(
        length=255,
        null=True,
        default=None,
        help_text="The till's Idempotency-Key that asked for it: the key's stored answer is "
        "``result``.",
    )
    created_at = Timestamptz(index=True)
    feed_xid = BigInt(
        default=0,
        index=True,
        help_text="The id of the transaction that wrote it (its default, "
        "pg_current_xact_id()): how far the store figures are folded (store_figures_mark).",
    )

    one_per_receipt = Unique(["store", "external_id"])
    one_key_per_terminal = Unique(["terminal", "idempotency_key"])
    amount_positive = Check("amount > 0 AND paid_amount >= 0")


class Refund(Table, tablename="refund"):
    id = UUID(primary_key=True, default=new_id)
    purchase = reference(Purchase, index=True)
    amount = BigInt(help_text="Gross value of the returned goods, minor units.")
    points_reversed = BigInt()
    points_returned = BigInt()
    reason = Varchar(length=500, default="")
    lines = JSONB(default="[]", help_text="The lines it named, with what each took back.")
    created_at = Timestamptz()

    amount_positive = Check("amount > 0")


class Checkout(Table, tablename="checkout"):
    """A two-phase sale: quote, hold points, then complete (capture) or cancel (void)."""

    id = UUID(primary_key=True, default=new_id)
    store = reference(Store)
    terminal = reference(Terminal)
    member = reference(Member, index=True)
    external_id = Varchar(length=100)
    amount = BigInt()
    currency = Varchar(length=3)
    items = JSONB(help_text="The check's lines, for exclusions.")
    rules_version = Integer()
    status = Varchar(length=12, help_text="open, held, completed, cancelled, expired.")
    hold_points = BigInt(default=0)
    hold_lots = JSONB(help_text="[[lot id, points], ...] taken by the hold, to give back on void.")
    hold_expires_at = Timestamptz(null=True, default=None, index=True)
    purchase = UUID(null=True, default=None)
    created_at = Timestamptz()
    updated_at = Timestamptz()

    checkout_one_per_receipt = Unique(["store", "external_id"])
    known_status = Check("status IN ('open', 'held', 'completed', 'cancelled', 'expired')")


class Order(Table, tablename="customer_order"):
    """An order paid in the mobile app through the payment provider.

    Points to redeem are held while the payment is pending; the provider's answer (webhook,
    or the poller asking) captures them and records the sale, or voids them.
    """

    id = UUID(primary_key=True, default=new_id)
    member = reference(Member, index=True)
    store = reference(Store)
    amount = BigInt()
    currency = Varchar(length=3)
    items = JSONB(help_text="The order's lines, for exclusions.")
    rules_version = Integer()
    hold_points = BigInt(default=0)
    hold_lots = JSONB(help_text="[[lot id, points], ...] held, to give back on void.")
    payable_amount = BigInt(help_text="What the provider is asked to charge.")
    status = Varchar(length=16, help_text="awaiting_payment, paid, failed.")
    payment_id = Varchar(length=100, null=True, default=None, unique=True)
    failure_reason = Varchar(length=200, null=True, default=None)
    purchase = UUID(null=True, default=None)
    idempotency_key = Varchar(length=255, help_text="The app's key: a retried POST finds it.")
    request_hash = Varchar(length=64)
    created_at = Timestamptz()
    updated_at = Timestamptz(index=True)

    one_order_per_key = Unique(["member", "idempotency_key"])
    known_order_status = Check("status IN ('awaiting_payment', 'paid', 'failed')")


class PaymentEvent(Table, tablename="payment_event"):
    """A verified webhook from the payment provider, kept once per provider event id."""

    id = UUID(primary_key=True, default=new_id)
    provider_event_id = Varchar(length=100, unique=True)
    type = Varchar(length=60)
    payload = JSONB()
    received_at = Timestamptz()
