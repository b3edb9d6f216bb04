"""The statements on the hot paths whose plans must not grow with the chain: which index each
one is meant to use, and the shape of the sample member, account and store to EXPLAIN it
against (picking the sample and filling the queues: ``devkit.plan_database``; reading the
plan: ``devkit.plans``).

Two users: ``tests/db/test_plans.py`` pins the plans (no sequential scan of a table that
grows with the members, the expected index used), and ``loadtests/explain_hot.py`` runs
``EXPLAIN (ANALYZE, BUFFERS)`` of each on the 1M-member database for the report.

Statements are the application's own where they are module constants (imported here by
name, so that a rename fails loudly); those built by Piccolo are built here the same way
(same table, same condition). The sale's write statements are being reshaped: only its
reads keyed by member id or receipt survive that, and only those are pinned.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from devkit.history import MEMBER_HISTORY

# Tables whose rows grow with the members or their history: never read whole on a hot path.
GROWING = frozenset(
    {
        *MEMBER_HISTORY,
        "member_offer",
        "store_day_member",
        "idempotency_record",
        "outbox_message",
        "refund",
    }
)


@dataclass(frozen=True, slots=True)
class Sample:
    """Real keys of the database the statements are explained on."""

    member_id: uuid.UUID
    account_id: uuid.UUID
    card_number: str
    store_id: uuid.UUID
    purchase_id: uuid.UUID
    lot_id: uuid.UUID
    now: datetime
    day: date


@dataclass(frozen=True, slots=True)
class HotStatement:
    name: str  # path: what
    indexes: frozenset[str]  # the plan uses at least one of these
    # Either a ``db.sql`` template and its parameters, or a whole statement (Piccolo's).
    template: str | None = None
    params: Callable[[Sample], dict[str, Any]] | None = None
    rendered: Callable[[Sample], str] | None = None
    writes: bool = False  # EXPLAIN ANALYZE only inside a transaction rolled back


def statements() -> list[HotStatement]:
    """Imported late: the application's modules read settings on import."""
    from backend.accounting import outbox
    from backend.campaigns import at_sale, telling
    from backend.campaigns import report as campaign_report
    from backend.idempotency import PURGE_BATCH
    from backend.loyalty import expiry, lots, tiers
    from backend.partners import enrolments, expiring
    from backend.push import scheduled_kinds
    from backend.sales import sale
    from backend.stores import chain_reports, folding
    from backend.streams import relay
    from backend.till import purchases, refunds
    from db.tables import Account, LedgerEntry, Member, MemberEvent, StoreDay
    from devkit.hot_telling import campaign_telling

    def year(s: Sample) -> datetime:
        return s.now - timedelta(days=365)

    def report_month(s: Sample) -> dict[str, Any]:
        """A campaign report's range: the last 30 days, on UTC days."""
        return {"zone": "UTC", "start": s.now - timedelta(days=30), "end": s.now}

    def sale_read(s: Sample) -> dict[str, Any]:
        """A till's sale of the sample member's card, under a key and receipt not sold yet."""
        return {
            "store_id": s.store_id,
            "terminal_id": uuid.UUID(int=1),
            "scope": "terminal:hot",
            "key": "hot-key",
            "external_id": "hot-receipt",
            "card_number": s.card_number,
            "since": year(s),
        }

    # The daily notices' zones (those whose morning it is) and the program's own.
    morning = {"zones": ["Europe/Moscow", "Asia/Vladivostok"], "program": "Europe/Moscow"}

    def expiring_window(s: Sample) -> dict[str, Any]:
        """The lots expiring within the notices' days, for the push notice and the partner
        event alike."""
        return {**morning, "now": s.now, "horizon": s.now + timedelta(days=9), "days": 7}

    return [
        *campaign_telling(telling),
        HotStatement(
            "sale: the card's member",
            frozenset({"member_card_number_key"}),
            rendered=lambda s: str(
                Member.select(Member.id).where(Member.card_number == s.card_number).first()
            ),
        ),
        HotStatement(
            "sale: what it checks, and the card holder's account read without a lock",
            frozenset({"account_member_key"}),
            template=purchases._UNLOCKED,
            params=lambda s: sale_read(s),
        ),
        HotStatement(
            "sale: the same with the card holder's account locked",
            frozenset({"account_member_key"}),
            template=purchases._LOCKING,
            params=lambda s: sale_read(s),
            writes=True,
        ),
        HotStatement(
            "sale: the buyer's account locked, stats, store, spend",
            frozenset({"account_member_key"}),
            template=sale._LOCK_BUYER,
            params=lambda s: {"member_id": s.member_id, "store_id": s.store_id, "since": year(s)},
            writes=True,
        ),
        HotStatement(
            "sale: a campaign's use counted on the member's row",
            frozenset({"member_offer_use"}),
            template=at_sale._COUNT_MEMBER_USE,
            params=lambda s: {
                "period": s.day,
                "now": s.now,
                "member_id": s.member_id,
                "campaign_id": uuid.UUID(int=1),
            },
            writes=True,
        ),
        HotStatement(
            "sale: points spent oldest first",
            frozenset({"point_lot_spendable"}),
            template=lots._SPEND_OLDEST_FIRST,
            params=lambda s: {"first": s.lot_id, "account_id": s.account_id, "points": 10},
            writes=True,
        ),
        HotStatement(
            "refund: the purchase locked",
            frozenset({"purchase_pkey"}),
            template=refunds._LOCK_PURCHASE,
            params=lambda s: {"id": s.purchase_id},
            writes=True,
        ),
        HotStatement(
            "/v1/me: the member's account",
            frozenset({"account_member_key"}),
            rendered=lambda s: str(
                Account.select(Account.available, Account.member.phone, Account.member.tier)
                .where(Account.member == s.member_id)
                .first()
            ),
        ),
        HotStatement(
            "/v1/me: qualifying spend",
            frozenset({"purchase_member_recent"}),
            template=tiers._SPEND,
            params=lambda s: {"member_id": s.member_id, "since": year(s)},
        ),
        HotStatement(
            "history: the member's newest entries",
            # Either is keyed by the account: a few dozen entries a year per member. On a
            # long history the planner takes the ordered one, which stops at the page.
            frozenset({"ledger_entry_history", "ledger_entry_account"}),
            rendered=lambda s: str(
                LedgerEntry.select(LedgerEntry.id, LedgerEntry.kind, LedgerEntry.created_at)
                .where(LedgerEntry.account == s.account_id)
                .order_by(LedgerEntry.id, ascending=False)
                .limit(51)
            ),
        ),
        HotStatement(
            "WebSocket replay: a member's events after a seq",
            frozenset({"one_per_seq"}),
            rendered=lambda s: str(
                MemberEvent.select(MemberEvent.type, MemberEvent.seq, MemberEvent.data)
                .where((MemberEvent.member == s.member_id) & (MemberEvent.seq > 2))
                .order_by(MemberEvent.seq)
                .limit(1000)
            ),
        ),
        HotStatement(
            "WebSocket: the streams' newest seqs",
            frozenset({"account_member_key"}),
            rendered=lambda s: str(
                Account.select(Account.member, Account.last_event_seq).where(
                    Account.member.is_in([s.member_id, uuid.UUID(int=1)])
                )
            ),
        ),
        HotStatement(
            "store stats: the store's day",
            frozenset({"one_per_store_day"}),
            rendered=lambda s: str(
                StoreDay.select(StoreDay.sales, StoreDay.active_members)
                .where((StoreDay.store == s.store_id) & (StoreDay.day == s.day))
                .first()
            ),
        ),
        HotStatement(
            "reports: the chain's sales of a day by the stores' local hours",
            frozenset({"purchase_created_at"}),
            template=chain_reports._BY_HOUR,
            params=lambda s: {
                "start": s.now - timedelta(days=1),
                "end": s.now + timedelta(hours=8),
                "store_ids": [s.store_id],
                "day": s.day,
            },
        ),
        HotStatement(
            "reports: the chain's points per day",
            frozenset({"one_per_store_day"}),
            template=chain_reports._BY_DAY,
            params=lambda s: {
                "store_ids": [s.store_id],
                "first": s.day - timedelta(days=29),
                "last": s.day,
            },
        ),
        HotStatement(
            "reports: a campaign's awards per day",
            frozenset({"ledger_entry_campaign"}),
            template=campaign_report._AWARDS,
            params=lambda s: {**report_month(s), "campaign_id": uuid.UUID(int=1)},
        ),
        HotStatement(
            "reports: a campaign's promoted items sold per day",
            frozenset({"purchase_created_at"}),
            template=campaign_report._ITEMS,
            params=lambda s: {
                **report_month(s),
                "store_ids": [],
                "skus": [],
                "categories": ["bakery"],
            },
        ),
        HotStatement(
            "store figures: the sales committed since the last fold",
            frozenset({"purchase_feed_xid"}),
            template=folding._SALES,
            params=lambda s: {"folded_below": 2**40, "waiting": []},
        ),
        HotStatement(
            "relay: members with recent events",
            frozenset({"member_event_recent"}),
            template=relay._RECENT,
            params=lambda s: {"since": s.now - relay.WINDOW},
        ),
        HotStatement(
            "expiry: members with points past their date",
            frozenset({"point_lot_expiring"}),
            template=expiry.DUE_EXPIRY,
            params=lambda s: {"now": s.now, "batch": expiry.BATCH},
        ),
        HotStatement(
            "pending release: members with points to release",
            frozenset({"point_lot_releasing"}),
            template=expiry.DUE_RELEASE,
            params=lambda s: {"now": s.now, "batch": expiry.BATCH},
        ),
        HotStatement(
            "push: members with points expiring within the notice's days",
            frozenset({"point_lot_expiring"}),
            template=scheduled_kinds.EXPIRING,
            params=lambda s: {**expiring_window(s), "limit": scheduled_kinds.LIMIT},
        ),
        HotStatement(
            "push: members whose birthday it is",
            frozenset({"member_birthday"}),
            template=scheduled_kinds.BIRTHDAYS,
            params=lambda s: {
                "month": s.day.month,
                "day": s.day.day,
                **morning,
                "year": str(s.day.year),
                "after": uuid.UUID(int=0),
                "batch": scheduled_kinds.BATCH,
            },
        ),
        HotStatement(
            "partners: points.expiring of the members whose morning it is",
            frozenset({"point_lot_expiring"}),
            template=expiring._EXPIRING,
            params=lambda s: {
                **expiring_window(s),
                "endpoints": [uuid.UUID(int=1)],
                "limit": expiring.LIMIT,
            },
        ),
        HotStatement(
            "partner feed: members enrolled since its mark",
            frozenset({"member_enrolled"}),
            template=enrolments._ENROLLED,
            params=lambda s: {
                "since": s.now - timedelta(minutes=1),
                "after_at": s.now - timedelta(minutes=1),
                "after_id": uuid.UUID(int=0),
                "page": enrolments.PAGE,
            },
        ),
        HotStatement(
            "tier evaluation: a batch of members above green",
            frozenset({"member_above_green"}),
            template=tiers._ABOVE_GREEN_SPEND,
            params=lambda s: {"since": year(s), "after": uuid.UUID(int=0), "batch": 500},
        ),
        HotStatement(
            "idempotency purge: a batch of old keys",
            frozenset({"idempotency_record_created_at"}),
            template=PURGE_BATCH,
            params=lambda s: {"before": s.now - timedelta(hours=48), "batch": 5000},
            writes=True,
        ),
        HotStatement(
            "outbox purge: a batch of delivered messages",
            frozenset({"outbox_message_business_date"}),
            template=outbox._PURGE_DELIVERED,
            params=lambda s: {"before": s.day - timedelta(days=400), "batch": 5000},
            writes=True,
        ),
        HotStatement(
            "outbox: its figures",
            frozenset({"outbox_message_open"}),
            template=outbox._FIGURES,
            params=lambda s: {},
        ),
        HotStatement(
            "outbox: messages due",
            frozenset({"outbox_message_due"}),
            template=outbox._DUE,
            params=lambda s: {"now": s.now, "batch": 100},
            writes=True,
        ),
    ]
