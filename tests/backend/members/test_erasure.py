"""Erasure: a member erases their account from the app (a fresh code confirms it) or an admin
erases one on request. The person is gone (phone, card, birth date, sessions); the ledger,
purchases and documents stay whole and balance; points left are forfeited; it is idempotent
and finished after a crash half-way."""

from __future__ import annotations

import uuid

import httpx
import pytest

from backend.auth.otp import OtpService
from backend.errors import InvalidOtp
from backend.jobs.scheduler import MaintenanceJobs
from backend.loyalty.rules import ProgramRules, publish_rules
from backend.loyalty.verify import find_mismatches
from backend.members import erasure as erasure_module
from backend.members.erasure import MemberErasure
from backend.members.qr import QrTokens
from db import sql
from db.tables import Member
from db.tables import MemberErasure as ErasureRow
from realtime.publisher import EventPublisher
from tests.backend.audit.support import entries, only
from tests.conftest import LiveServer
from tests.factories import (
    LoggedInMember,
    SignedInStaff,
    assert_problem,
    buy,
    hire,
    log_in,
    on_checkout,
    open_checkout,
    open_till,
    purchase_body,
)


def _service(live_server: LiveServer) -> MemberErasure:
    service = live_server.app.dependencies["member_erasure"].dependency()
    assert isinstance(service, MemberErasure)
    return service


async def _balance(client: httpx.AsyncClient, member: LoggedInMember) -> int:
    balance = (await client.get("/v1/me", headers=member.headers)).json()["balance"]
    return int(balance["available"]) + int(balance["pending"])


async def _ledger_points(member_id: str) -> int:
    rows = await sql.fetch(
        "SELECT COALESCE(SUM(e.available_delta + e.pending_delta), 0)::bigint AS points"
        " FROM ledger_entry e JOIN account a ON a.id = e.account WHERE a.member = {member}",
        member=uuid.UUID(member_id),
    )
    return int(rows[0]["points"])


async def test_a_member_erases_their_account_with_a_fresh_code(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    member = await log_in(client, live_server.sms)
    till = await open_till()
    assert (await buy(client, till, purchase_body(member.card_number))).status_code == 201
    patched = await client.patch(
        "/v1/me", headers=member.headers, json={"birth_date": "1990-05-17"}
    )
    assert patched.status_code == 200, patched.text
    consent = await client.put("/v1/me/consents", headers=member.headers, json={"sms": True})
    assert consent.status_code == 200, consent.text
    points = await _balance(client, member)
    assert points > 0

    # The login code does not confirm an erasure: only a code sent for it does.
    login_code = live_server.sms.codes[member.phone]
    refused = await client.post("/v1/me/erasure", headers=member.headers, json={"code": login_code})
    assert_problem(refused, 401, "invalid_otp")
    sent = await client.post("/v1/me/erasure/code", headers=member.headers)
    assert sent.status_code == 202, sent.text
    code = live_server.sms.codes[member.phone]
    erased = await client.post("/v1/me/erasure", headers=member.headers, json={"code": code})
    assert erased.status_code == 200, erased.text
    result = erased.json()
    assert result["source"] == "member"
    assert result["points_forfeited"] == points
    assert result["completed_at"] is not None

    # Signed out everywhere: the same request again (a replay of the code) is refused.
    again = await client.post("/v1/me/erasure", headers=member.headers, json={"code": code})
    assert again.status_code == 401, again.text
    refreshed = await client.post("/v1/auth/refresh", json={"refresh_token": member.refresh_token})
    assert refreshed.status_code == 401, refreshed.text

    row = await Member.select().where(Member.id == uuid.UUID(member.member_id)).first()
    assert row is not None
    assert row["phone"] != member.phone and not row["phone"].startswith("+")
    assert row["card_number"] != member.card_number and not row["card_number"].isdigit()
    assert (row["birth_date"], row["time_zone"]) == (None, None)
    # Consent withdrawn (appended: the history is proof), points gone through the ledger.
    consents = await sql.fetch(
        "SELECT given, source FROM marketing_consent WHERE member = {member} ORDER BY at, id",
        member=uuid.UUID(member.member_id),
    )
    assert [(r["given"], r["source"]) for r in consents] == [(True, "app"), (False, "erasure")]
    assert await _ledger_points(member.member_id) == 0
    forfeited = await sql.fetch(
        "SELECT payload->>'points_liability_delta' AS delta, reference FROM outbox_message"
        " WHERE kind = 'points_forfeiture'"
    )
    assert [(int(r["delta"]), r["reference"]) for r in forfeited] == [(-points, member.member_id)]
    assert await find_mismatches() == []
    entry = await only("member.erased")
    assert entry["staff_id"] is None
    assert entry["target_id"] == member.member_id
    assert entry["after"]["points_forfeited"] == points

    # The old card and phone identify nobody; the same phone logs in as a new member.
    assert_problem(
        await buy(client, till, purchase_body(member.card_number)), 404, "member_not_found"
    )
    admin = await hire(client, "admin")
    for params in ({"phone": member.phone}, {"card_number": member.card_number}):
        found = await client.get("/v1/admin/members", params=params, headers=admin.headers)
        assert_problem(found, 404, "member_not_found")
    newcomer = await log_in(client, live_server.sms, phone=member.phone)
    assert newcomer.member_id != member.member_id
    assert newcomer.card_number != member.card_number
    assert await _balance(client, newcomer) == 0
    assert (await client.get("/v1/me/transactions", headers=newcomer.headers)).json()["items"] == []


async def test_an_erasure_code_is_single_use(live_server: LiveServer) -> None:
    otp = live_server.app.dependencies["auth_service"].dependency().otp
    assert isinstance(otp, OtpService)
    phone = "+79990000001"
    await otp.request_code(phone, purpose="erasure")
    code = live_server.sms.codes[phone]
    with pytest.raises(InvalidOtp):
        await otp.verify(phone, code)  # not a login code
    await otp.verify(phone, code, purpose="erasure")
    with pytest.raises(InvalidOtp):
        await otp.verify(phone, code, purpose="erasure")
    await otp.forget_phone(phone)


async def test_a_wrong_code_erases_nothing(
    client: httpx.AsyncClient, member: LoggedInMember
) -> None:
    sent = await client.post("/v1/me/erasure/code", headers=member.headers)
    assert sent.status_code == 202, sent.text
    wrong = await client.post("/v1/me/erasure", headers=member.headers, json={"code": "000000"})
    if wrong.status_code == 200:  # pragma: no cover - one chance in a million
        pytest.fail("the random code happened to be 000000")
    assert_problem(wrong, 401, "invalid_otp")
    assert await ErasureRow.count() == 0
    assert (await client.get("/v1/me", headers=member.headers)).json()["phone"] == member.phone


async def test_an_admin_erases_on_request_once_however_often_asked(
    client: httpx.AsyncClient, member: LoggedInMember
) -> None:
    till = await open_till()
    assert (await buy(client, till, purchase_body(member.card_number))).status_code == 201
    points = await _balance(client, member)
    admin = await hire(client, "admin")
    path = f"/v1/admin/members/{member.member_id}/erasure"
    body = {"reason": "written request no. 17 of 2026-12-01"}
    first = await client.post(path, headers=admin.headers, json=body)
    assert first.status_code == 200, first.text
    second = await client.post(path, headers=admin.headers, json=body)
    assert second.status_code == 200, second.text
    assert first.json() == second.json()
    assert first.json()["source"] == "staff"
    assert first.json()["points_forfeited"] == points
    entry = await only("member.erased")
    assert str(entry["staff_id"]) == admin.staff_id
    assert entry["after"]["reason"] == body["reason"]
    assert len(await sql.fetch("SELECT 1 FROM ledger_entry WHERE kind = 'forfeiture'")) == 1
    # The member's own session ended with it.
    assert (await client.get("/v1/me", headers=member.headers)).status_code == 401
    # Nobody to erase or export: 404, and the export of an erased member finds nobody.
    unknown = await client.post(
        f"/v1/admin/members/{uuid.uuid4()}/erasure", headers=admin.headers, json=body
    )
    assert_problem(unknown, 404, "member_not_found")
    export = await client.get(
        f"/v1/admin/members/{member.member_id}/export",
        params={"reason": "request 18"},
        headers=admin.headers,
    )
    assert_problem(export, 404, "member_not_found")


async def test_only_admins_erase_and_the_attempt_is_audited(
    client: httpx.AsyncClient, member: LoggedInMember, store_staff: SignedInStaff
) -> None:
    refused = await client.post(
        f"/v1/admin/members/{member.member_id}/erasure",
        headers=store_staff.headers,
        json={"reason": "asked at the counter"},
    )
    assert_problem(refused, 403, "forbidden")
    await only("access.refused", staff_id=store_staff.staff_id)
    assert await ErasureRow.count() == 0
    assert await entries("member.erased") == []


async def test_an_erasure_interrupted_half_way_is_finished(
    client: httpx.AsyncClient,
    live_server: LiveServer,
    member: LoggedInMember,
    monkeypatch: pytest.MonkeyPatch,
    publisher: EventPublisher,
) -> None:
    service = _service(live_server)
    member_id = uuid.UUID(member.member_id)
    qr = await client.get("/v1/me/qr", headers=member.headers)
    token = qr.json()["qr_token"]

    # A crash before the first transaction commits leaves nothing changed.
    async def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the process died")

    monkeypatch.setattr(erasure_module, "record", crash)
    with pytest.raises(RuntimeError):
        await service.erase(member_id, staff=None, reason=None)
    assert await ErasureRow.count() == 0
    assert (await client.get("/v1/me", headers=member.headers)).json()["phone"] == member.phone
    monkeypatch.undo()

    # A crash after it: the personal data is gone, the sessions still to be ended.
    monkeypatch.setattr(QrTokens, "forget_member", crash)
    with pytest.raises(RuntimeError):
        await service.erase(member_id, staff=None, reason=None)
    monkeypatch.undo()
    row = await ErasureRow.select().first()
    assert row is not None and row["completed_at"] is None
    assert await Member.count().where(Member.phone == member.phone) == 0

    # The periodic jobs finish it (and a second run finds nothing to do).
    jobs = MaintenanceJobs(publisher=publisher, idempotency_ttl_h=24, erasures=service.cleanup)
    report = await jobs.run(evaluate_tiers_now=False)
    assert report.erasures_finished == 1
    assert await service.finish_erasures() == 0
    row = await ErasureRow.select().first()
    assert row is not None and row["completed_at"] is not None
    assert (await client.get("/v1/me", headers=member.headers)).status_code == 401
    till = await open_till()
    by_qr = await buy(client, till, {**purchase_body("0"), "customer": {"qr_token": token}})
    assert by_qr.status_code == 404, by_qr.text
    assert len(await entries("member.erased")) == 1


async def test_points_that_come_back_after_the_erasure_are_forfeited_too(
    client: httpx.AsyncClient, live_server: LiveServer, member: LoggedInMember
) -> None:
    till = await open_till()
    assert (
        await buy(client, till, purchase_body(member.card_number, amount=500000))
    ).status_code == 201
    checkout = await open_checkout(client, till, member)
    held = await on_checkout(client, till, checkout, "hold", {"points": 10})
    assert held.status_code == 200, held.text

    service = _service(live_server)
    result = await service.erase(uuid.UUID(member.member_id), staff=None, reason=None)
    assert result.completed_at is not None
    # The hold is cancelled after the erasure: its points come back to nobody's account.
    cancelled = await on_checkout(client, till, checkout, "cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert await _ledger_points(member.member_id) == 10
    assert await service.finish_erasures() == 1
    assert await _ledger_points(member.member_id) == 0
    row = await ErasureRow.select().first()
    assert row is not None and row["points_forfeited"] == result.points_forfeited + 10
    assert await find_mismatches() == []


async def test_pending_points_are_forfeited_with_their_lots(
    client: httpx.AsyncClient, live_server: LiveServer, member: LoggedInMember
) -> None:
    await publish_rules(ProgramRules(return_window_days=14), staff_id=uuid.uuid4())
    till = await open_till()
    assert (await buy(client, till, purchase_body(member.card_number))).status_code == 201
    balance = (await client.get("/v1/me", headers=member.headers)).json()["balance"]
    assert balance["available"] == 0 and balance["pending"] > 0

    result = await _service(live_server).erase(uuid.UUID(member.member_id), staff=None, reason=None)
    assert result.points_forfeited == balance["pending"]
    lots = await sql.fetch(
        "SELECT remaining FROM point_lot WHERE account ="
        " (SELECT id FROM account WHERE member = {member})",
        member=uuid.UUID(member.member_id),
    )
    assert [row["remaining"] for row in lots] == [0]
    entries_ = await sql.fetch(
        "SELECT available_delta, pending_delta FROM ledger_entry WHERE kind = 'forfeiture'"
    )
    assert [(r["available_delta"], r["pending_delta"]) for r in entries_] == [
        (0, -balance["pending"])
    ]
    assert await find_mismatches() == []
