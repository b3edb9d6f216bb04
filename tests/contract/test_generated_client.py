"""A client generated from the served OpenAPI document, unedited, runs the README's flow.

openapi-python-client (a maintained, widely used generator; a dev dependency) writes a typed
httpx client from ``/schema/openapi.json`` into a temporary folder. The test imports it and
does what the README does: a sale at the till, a member's login, ``/v1/me``, a refund; and
meets the errors a till and a phone meet, each as a typed ``Problem`` with its ``code``.
Both clients raise on any status their operation does not declare.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer
from tests.factories import LoggedInMember, Till

PACKAGE = "astrocoffee_client"


@pytest.fixture(scope="module")
async def generated(
    tmp_path_factory: pytest.TempPathFactory, live_server: LiveServer
) -> ModuleType:
    folder = tmp_path_factory.mktemp("generated")
    document = folder / "openapi.json"
    async with httpx.AsyncClient(base_url=live_server.base_url) as http:
        document.write_bytes((await http.get("/schema/openapi.json")).content)
    config = folder / "config.yaml"
    config.write_text(f"package_name_override: {PACKAGE}\npost_hooks: []\n")
    generator = Path(sys.executable).parent / "openapi-python-client"
    process = await asyncio.create_subprocess_exec(
        *(str(generator), "generate", "--path", str(document), "--config", str(config)),
        *("--meta", "none", "--output-path", str(folder / PACKAGE)),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "NO_COLOR": "1"},
    )
    said = (await process.communicate())[0].decode()
    assert process.returncode == 0, said
    # Only what is not JSON may be left out of a generated client: the QR picture (SVG) and
    # the catalogue's upload (a CSV file, sent as it is: the generator knows no text/csv).
    warnings = [line for line in said.splitlines() if line.startswith("WARNING")]
    assert sorted(warnings) == [
        "WARNING parsing GET /v1/me/qr.svg within me.",
        "WARNING parsing PUT /v1/admin/catalogue within admin. Endpoint will not be generated.",
    ], said
    sys.path.insert(0, str(folder))
    try:
        return importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(folder))


def _part(package: ModuleType, name: str) -> Any:
    return importlib.import_module(f"{package.__name__}.{name}")


async def test_the_readme_flow_through_a_generated_client(
    generated: ModuleType, live_server: LiveServer, till: Till
) -> None:
    models = _part(generated, "models")
    otp = _part(generated, "api.auth.v1_auth_otp_request_otp")
    login = _part(generated, "api.auth.v1_auth_token_issue_token")
    me = _part(generated, "api.me.v1_me_get_me")
    purchase = _part(generated, "api.purchases.v1_purchases_create_purchase")
    refund = _part(generated, "api.purchases.v1_purchases_purchase_id_refunds_refund")
    phone = "+79990001234"

    async with generated.Client(
        base_url=live_server.base_url, raise_on_unexpected_status=True
    ) as anyone:
        sent = await otp.asyncio_detailed(client=anyone, body=models.OtpRequest(phone=phone))
        assert sent.status_code == 202
        code = live_server.sms.codes[phone]
        tokens = await login.asyncio(
            client=anyone, body=models.TokenRequest(phone=phone, code=code)
        )
    assert isinstance(tokens, models.TokenResponse)

    async with (
        generated.AuthenticatedClient(
            base_url=live_server.base_url,
            token=tokens.access_token,
            raise_on_unexpected_status=True,
        ) as phone_app,
        _till_client(generated, live_server, till.key) as pos,
    ):
        profile = await me.asyncio(client=phone_app)
        assert isinstance(profile, models.MeResponse)
        assert profile.balance.available == 0

        sale = models.PurchaseRequest(
            customer=models.Customer(card_number=profile.card_number),
            external_id=f"receipt-{uuid.uuid4()}",
            amount=35000,
            currency="RUB",
        )
        made = await purchase.asyncio(client=pos, body=sale, idempotency_key=str(uuid.uuid4()))
        assert isinstance(made, models.PurchaseResponse)
        assert made.points_earned == 17  # 5 % of 350.00 at Green
        assert (await me.asyncio(client=phone_app)).balance.available == 17

        returned = await refund.asyncio(
            client=pos,
            purchase_id=made.purchase_id,
            body=models.RefundRequest(amount=35000),
            idempotency_key=str(uuid.uuid4()),
        )
        assert isinstance(returned, models.RefundResponse)
        assert returned.points_reversed == 17
        assert (await me.asyncio(client=phone_app)).balance.available == 0


async def test_errors_arrive_as_typed_problems(
    generated: ModuleType, live_server: LiveServer, till: Till, member: LoggedInMember
) -> None:
    models = _part(generated, "models")
    purchase = _part(generated, "api.purchases.v1_purchases_create_purchase")
    me = _part(generated, "api.me.v1_me_get_me")

    def sale(card: str, *, redeem: int = 0) -> Any:
        return models.PurchaseRequest(
            customer=models.Customer(card_number=card),
            external_id=f"receipt-{uuid.uuid4()}",
            amount=35000,
            redeem_points=redeem,
        )

    async def problem(answer: Any, status: int, code: str) -> None:
        assert answer.status_code == status, answer.content
        assert isinstance(answer.parsed, models.Problem)
        assert (answer.parsed.status, answer.parsed.code) == (status, code)

    async with _till_client(generated, live_server, till.key) as pos:
        await problem(
            await purchase.asyncio_detailed(
                client=pos, body=sale("0" * 16), idempotency_key=str(uuid.uuid4())
            ),
            404,
            "member_not_found",
        )
        await problem(
            await purchase.asyncio_detailed(
                client=pos, body=sale(member.card_number, redeem=100), idempotency_key="k-1"
            ),
            422,
            "insufficient_points",
        )
        key = str(uuid.uuid4())
        made = await purchase.asyncio(
            client=pos, body=sale(member.card_number), idempotency_key=key
        )
        assert isinstance(made, models.PurchaseResponse)
        await problem(
            await purchase.asyncio_detailed(
                client=pos, body=sale(member.card_number), idempotency_key=key
            ),
            422,
            "idempotency_key_reused",
        )
    async with _till_client(generated, live_server, "not-a-key") as stranger:
        await problem(
            await purchase.asyncio_detailed(
                client=stranger, body=sale(member.card_number), idempotency_key=str(uuid.uuid4())
            ),
            401,
            "unauthorized",
        )
    async with generated.Client(
        base_url=live_server.base_url, raise_on_unexpected_status=True
    ) as anyone:
        await problem(await me.asyncio_detailed(client=anyone), 401, "unauthorized")


def _till_client(generated: ModuleType, live_server: LiveServer, key: str) -> Any:
    return generated.AuthenticatedClient(
        base_url=live_server.base_url,
        token=key,
        prefix="",
        auth_header_name="X-Api-Key",
        raise_on_unexpected_status=True,
    )
