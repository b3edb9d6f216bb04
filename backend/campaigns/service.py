"""Campaign administration: create, edit a draft, schedule, publish, pause, end.

Every change drops the campaign cache (``Catalogue.forget``) after commit. A campaign
coming into effect (published, resumed, or its scheduled start reached) tells its audience
``offer.available``; one leaving it (paused, ended, its end reached) ``offer.expired``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec
from piccolo.columns import Column

from backend.audit.trail import record
from backend.campaigns.catalogue import Catalogue, LiveCampaign, to_live
from backend.campaigns.kinds import PURCHASE_KINDS, Birthday, Welcome, kind_of
from backend.campaigns.schemas import CampaignIn, CampaignList, CampaignOut
from backend.campaigns.telling import BATCH, begin_telling, tell_first_batch
from backend.campaigns.total_limit import set_total_limit
from backend.errors import Conflict, NotFound, ValidationFailed
from backend.local_time import local_moment, zone, zone_named
from db import sql
from db.pool import engine
from db.tables import Campaign, Store
from realtime.publisher import EventPublisher, Outgoing

# When a campaign may start or end: wide, but within what PostgreSQL and Python can hold in
# every time zone (9999-12-31 at -12:00 is past year 9999 in UTC).
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)

# status -> the statuses an admin may move it to
TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"scheduled", "active", "ended"}),
    "scheduled": frozenset({"active", "paused", "ended"}),
    "active": frozenset({"paused", "ended"}),
    "paused": frozenset({"active", "ended"}),
    "ended": frozenset(),
}


@dataclass(frozen=True, slots=True)
class Schedule:
    """When a campaign starts and ends, as instants, and the zone it was given in (if any)."""

    starts_at: datetime | None
    ends_at: datetime | None
    time_zone: str | None
    # The names the start and end were given under, for the errors about them.
    start_field: str = "starts_at"
    end_field: str = "ends_at"


def schedule_of(campaign: CampaignIn) -> Schedule:
    """The start and end as instants: given as such, or as wall-clock times in ``time_zone``
    (a time the zone skips is refused, a repeated one is its first occurrence)."""
    where = zone_named(campaign.time_zone, field="time_zone") if campaign.time_zone else None
    moments: list[datetime | None] = []
    fields: list[str] = []
    for name, instant, local in (
        ("starts_at", campaign.starts_at, campaign.starts_at_local),
        ("ends_at", campaign.ends_at, campaign.ends_at_local),
    ):
        if local is None:
            moments.append(instant)
            fields.append(name)
            continue
        field = f"{name}_local"
        if instant is not None:
            raise ValidationFailed(f"{field}: give {name} or {field}, not both", field=field)
        if where is None:
            raise ValidationFailed(
                f"time_zone: {field} is a wall-clock time, and needs the zone it is read in",
                field="time_zone",
            )
        if not EARLIEST.replace(tzinfo=None) <= local < LATEST.replace(tzinfo=None):
            raise ValidationFailed(
                f"{field} must be from {EARLIEST:%Y} to {LATEST:%Y}", field=field
            )
        moments.append(local_moment(local, where, field=field))
        fields.append(field)
    return Schedule(moments[0], moments[1], campaign.time_zone, fields[0], fields[1])


def check_campaign(campaign: CampaignIn, *, now: datetime) -> Schedule:
    """Refuse contradictory rules, with the reason; the schedule in instants."""
    campaign.rule.check()
    campaign.targeting.check()
    kind = kind_of(campaign.rule)
    schedule = schedule_of(campaign)
    for moment, field in (
        (schedule.starts_at, schedule.start_field),
        (schedule.ends_at, schedule.end_field),
    ):
        if moment is not None and not EARLIEST <= moment < LATEST:
            raise ValidationFailed(
                f"starts_at and ends_at must be from {EARLIEST:%Y} to {LATEST:%Y}", field=field
            )
    if schedule.starts_at and schedule.ends_at and schedule.ends_at <= schedule.starts_at:
        raise ValidationFailed(
            f"{schedule.end_field} must be after {schedule.start_field}", field=schedule.end_field
        )
    if schedule.ends_at is not None and schedule.ends_at <= now:
        raise ValidationFailed(f"{schedule.end_field} is in the past", field=schedule.end_field)
    if (
        campaign.per_member_limit is not None
        and campaign.total_limit is not None
        and campaign.per_member_limit > campaign.total_limit
    ):
        raise ValidationFailed(
            "per_member_limit is more than total_limit", field="per_member_limit"
        )
    at_till = kind in PURCHASE_KINDS
    if campaign.per_member_period is not None:
        if campaign.per_member_limit is None:
            raise ValidationFailed(
                "per_member_period: a period needs the per_member_limit it counts",
                field="per_member_period",
            )
        if isinstance(campaign.rule, Birthday) or not at_till:
            raise ValidationFailed(
                f"per_member_period: a {kind} campaign is not limited per period"
                + (" (it pays once per birthday)" if isinstance(campaign.rule, Birthday) else ""),
                field="per_member_period",
            )
    if not at_till and (
        campaign.targeting.store_ids
        or campaign.targeting.days_of_week
        or campaign.targeting.hours is not None
    ):
        raise ValidationFailed(f"a {kind} campaign is not used at a till: no stores, days or hours")
    if isinstance(campaign.rule, Welcome) and (
        campaign.requires_activation or not campaign.targeting.everyone
    ):
        raise ValidationFailed("a welcome bonus is for every new member, without activation")
    if not at_till and campaign.exclusive:
        raise ValidationFailed(f"exclusive only orders campaigns at the till, not {kind}")
    return schedule


async def _check_stores(campaign: CampaignIn) -> None:
    wanted = set(campaign.targeting.store_ids)
    if wanted and await Store.count().where(Store.id.is_in(list(wanted))) != len(wanted):
        raise ValidationFailed("targeting.store_ids names a store that does not exist")


class CampaignAdmin:
    def __init__(self, *, catalogue: Catalogue, publisher: EventPublisher) -> None:
        self._catalogue = catalogue
        self._publisher = publisher

    async def create(self, data: CampaignIn) -> CampaignOut:
        now = datetime.now(UTC)
        schedule = check_campaign(data, now=now)
        await _check_stores(data)
        columns = {str(key): value for key, value in _columns(data, schedule).items()}
        campaign = Campaign(**columns, status="draft", created_at=now, updated_at=now)
        async with engine().transaction():
            await campaign.save()
            await set_total_limit(campaign.id, data.total_limit)
            created = await get_campaign(campaign.id)
            await _audit("campaign.created", created, after=created)
        return created

    async def replace_draft(self, campaign_id: uuid.UUID, data: CampaignIn) -> CampaignOut:
        now = datetime.now(UTC)
        schedule = check_campaign(data, now=now)
        await _check_stores(data)
        async with engine().transaction():
            current = await _lock(campaign_id)
            if current["status"] != "draft":
                raise Conflict(
                    f"only a draft can be edited; this one is {current['status']}",
                    status=current["status"],
                )
            await Campaign.update({**_columns(data, schedule), "updated_at": now}).where(
                Campaign.id == campaign_id
            )
            await set_total_limit(campaign_id, data.total_limit)
            changed = await get_campaign(campaign_id)
            await _audit("campaign.updated", changed, before=_out(current), after=changed)
        return changed

    async def move(self, campaign_id: uuid.UUID, target: str) -> CampaignOut:
        """schedule / publish (active) / pause / end."""
        now = datetime.now(UTC)
        events: list[Outgoing] = []
        async with engine().transaction():
            current = await _lock(campaign_id)
            status = current["status"]
            if target not in TRANSITIONS[status]:
                raise Conflict(f"a {status} campaign cannot become {target}", status=status)
            values: dict[Any, Any] = {Campaign.status: target, Campaign.updated_at: now}
            starts_at, ends_at = current["starts_at"], current["ends_at"]
            if target == "scheduled" and (starts_at is None or starts_at <= now):
                raise ValidationFailed(
                    "scheduling needs a starts_at in the future; publish instead"
                )
            if target == "active" and (starts_at is None or starts_at > now):
                values[Campaign.starts_at] = now  # published now, whatever the plan was
            if target == "ended" and (ends_at is None or ends_at > now):
                values[Campaign.ends_at] = now
            if ends_at is not None and ends_at <= now and target != "ended":
                raise Conflict("this campaign's end has passed", status=status)
            await Campaign.update(values).where(Campaign.id == campaign_id)
            moved = await _lock(campaign_id)
            await _audit(
                f"campaign.{'published' if target == 'active' else target}",
                _out(moved),
                before={"status": status, "starts_at": starts_at, "ends_at": ends_at},
                after={k: moved[k] for k in ("status", "starts_at", "ends_at")},
            )
            after = to_live(moved)
            was_live = status == "active"
            if target == "active" and not was_live:
                events = await begin_telling(after, "offer.available", now=now)
            elif was_live and target in ("paused", "ended"):
                events = await begin_telling(after, "offer.expired", now=now)
        await self._catalogue.forget()
        await self._publisher.publish(events)
        # The first batch of a targeted audience at once (all of a small one); the
        # scheduler's job tells the rest.
        await tell_first_batch(self._publisher, campaign_id)
        return await get_campaign(campaign_id)

    async def list(self) -> CampaignList:
        rows = await sql.fetch(_CAMPAIGNS)
        return CampaignList(items=[_out(_loaded(row)) for row in rows])


async def start_and_end_on_time(
    publisher: EventPublisher, catalogue: Catalogue, *, now: datetime, batch: int = BATCH
) -> int:
    """Scheduled campaigns whose start came become active; campaigns whose end came end.
    Their audiences are told (a targeted one's first ``batch`` members here, the rest by
    ``tell_audiences``). Safe to run from several processes (row locks)."""
    changed = 0
    for query, target, event in (
        (
            "SELECT id FROM campaign WHERE status = 'scheduled' AND starts_at <= {now} "
            "AND (ends_at IS NULL OR ends_at > {now}) FOR UPDATE SKIP LOCKED",
            "active",
            "offer.available",
        ),
        (
            "SELECT id FROM campaign WHERE status IN ('scheduled', 'active', 'paused') "
            "AND ends_at <= {now} FOR UPDATE SKIP LOCKED",
            "ended",
            "offer.expired",
        ),
    ):
        async with engine().transaction():
            rows = await sql.fetch(query, now=now)
            events: list[Outgoing] = []
            for row in rows:
                before = await _lock(row["id"])
                await Campaign.update({Campaign.status: target, Campaign.updated_at: now}).where(
                    Campaign.id == row["id"]
                )
                # An end tells only those who were told of the start.
                if target == "active" or before["status"] == "active":
                    live = to_live({**before, "status": target})
                    events += await begin_telling(live, event, now=now)
        if rows:
            changed += len(rows)
            await catalogue.forget()
            await publisher.publish(events)
            for row in rows:
                await tell_first_batch(publisher, row["id"], batch=batch)
    return changed


async def _audit(action: str, campaign: CampaignOut, *, before: Any = None, after: Any) -> None:
    """A staff change of a campaign, on the audit trail (in the change's transaction); the
    stores it targets are the ones whose managers see it."""
    await record(
        action,
        target_type="campaign",
        target_id=campaign.id,
        before=before,
        after=after,
        store_ids=campaign.targeting.store_ids,
    )


# A campaign's uses: the sum of its limit's shares (backend.campaigns.total_limit), none
# for a campaign that never had a limit.
_CAMPAIGNS = """
SELECT c.*, (SELECT COALESCE(sum(s.taken), 0) FROM campaign_limit_share s
             WHERE s.campaign = c.id)::int AS uses
FROM campaign c ORDER BY c.created_at
"""
_CAMPAIGN = """
SELECT c.*, (SELECT COALESCE(sum(s.taken), 0) FROM campaign_limit_share s
             WHERE s.campaign = c.id)::int AS uses
FROM campaign c WHERE c.id = {id}
"""
_LOCK = """
SELECT c.*, (SELECT COALESCE(sum(s.taken), 0) FROM campaign_limit_share s
             WHERE s.campaign = c.id)::int AS uses
FROM campaign c WHERE c.id = {id} FOR UPDATE OF c
"""


async def get_campaign(campaign_id: uuid.UUID) -> CampaignOut:
    rows = await sql.fetch(_CAMPAIGN, id=campaign_id)
    if not rows:
        raise NotFound(f"campaign {campaign_id} does not exist")
    return _out(_loaded(rows[0]))


async def _lock(campaign_id: uuid.UUID) -> dict[str, Any]:
    rows = await sql.fetch(_LOCK, id=campaign_id)
    if not rows:
        raise NotFound(f"campaign {campaign_id} does not exist")
    return _loaded(rows[0])


def _loaded(found: sql.Row) -> dict[str, Any]:
    row: dict[str, Any] = dict(found)
    for key in ("rule", "targeting"):
        row[key] = sql.loaded_json(row[key])
    return row


# A return is rewarded once: without a limit given, it applies once per member. (A birthday
# pays once per birthday, every year: backend.campaigns.limits.)
ONCE_PER_MEMBER = frozenset({"win_back"})


def _columns(data: CampaignIn, schedule: Schedule) -> dict[Column | str, Any]:
    kind = kind_of(data.rule)
    per_member = data.per_member_limit
    if per_member is None and kind in ONCE_PER_MEMBER:
        per_member = 1
    return {
        "name": data.name,
        "description": data.description,
        "kind": kind,
        "rule": msgspec.json.encode(data.rule).decode(),
        "targeting": msgspec.json.encode(data.targeting).decode(),
        "starts_at": schedule.starts_at,
        "ends_at": schedule.ends_at,
        "schedule_time_zone": schedule.time_zone,
        "priority": data.priority,
        "exclusive": data.exclusive,
        "requires_activation": data.requires_activation,
        "per_member_limit": per_member,
        "per_member_period": data.per_member_period,
        "total_limit": data.total_limit,
    }


def _out(row: dict[str, Any]) -> CampaignOut:
    name = row["schedule_time_zone"]

    def local(at: datetime | None) -> datetime | None:
        return (
            None if at is None or name is None else at.astimezone(zone(name)).replace(tzinfo=None)
        )

    shown = {
        **row,
        "time_zone": name,
        "starts_at_local": local(row["starts_at"]),
        "ends_at_local": local(row["ends_at"]),
    }
    return msgspec.convert(shown, CampaignOut, from_attributes=False)


__all__ = ["CampaignAdmin", "LiveCampaign", "start_and_end_on_time"]
