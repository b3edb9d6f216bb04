from __future__ import annotations

import subprocess

import httpx

from tests.cli import astrocoffee, run_env
from tests.factories import STAFF_PASSWORD, add_staff, hire, open_till
from tests.servers import RunServers


async def test_staff_sign_in_with_email_and_password(client: httpx.AsyncClient) -> None:
    till = await open_till()
    barista = await hire(client, "barista", [till.store_id])
    me = (await client.get("/v1/staff/me", headers=barista.headers)).json()
    assert me["role"] == "barista"
    assert me["store_ids"] == [str(till.store_id)]
    assert "password" not in str(me)


async def test_wrong_password_and_unknown_email_get_the_same_answer(
    client: httpx.AsyncClient,
) -> None:
    admin = await hire(client, "admin")
    wrong = await client.post(
        "/v1/staff/token", json={"email": admin.email, "password": "not the password"}
    )
    unknown = await client.post(
        "/v1/staff/token", json={"email": "nobody@astrocoffee.test", "password": STAFF_PASSWORD}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"]


async def test_admins_create_and_change_staff(client: httpx.AsyncClient) -> None:
    admin = await hire(client, "admin")
    store_1, store_2 = await open_till(), await open_till()
    created = await add_staff(
        client,
        admin,
        "manager",
        [store_1.store_id],
        email="New.Manager@Astrocoffee.test",
        name="New Manager",
    )
    assert created.status_code == 201, created.text
    manager = created.json()
    assert manager["email"] == "new.manager@astrocoffee.test"

    moved = await client.patch(
        f"/v1/admin/staff/{manager['id']}",
        headers=admin.headers,
        json={"store_ids": [str(store_2.store_id)]},
    )
    assert moved.json()["store_ids"] == [str(store_2.store_id)]
    listed = (await client.get("/v1/admin/staff?limit=1", headers=admin.headers)).json()
    assert len(listed["items"]) == 1
    assert listed["next_cursor"] is not None


async def test_contradictory_staff_are_refused(client: httpx.AsyncClient) -> None:
    admin = await hire(client, "admin")
    base = {"email": "x@astrocoffee.test", "name": "X", "password": "a long enough password"}
    no_store = await client.post(
        "/v1/admin/staff", headers=admin.headers, json={**base, "role": "barista"}
    )
    assert no_store.status_code == 400
    short = await client.post(
        "/v1/admin/staff",
        headers=admin.headers,
        json={**base, "role": "admin", "password": "short"},
    )
    assert short.status_code == 400
    ghost_store = await client.post(
        "/v1/admin/staff",
        headers=admin.headers,
        json={**base, "role": "barista", "store_ids": ["01a216eb-e843-7016-a88c-8d68fcc0b393"]},
    )
    assert ghost_store.status_code == 400


async def test_deactivation_and_demotion_take_effect_at_once(client: httpx.AsyncClient) -> None:
    admin = await hire(client, "admin")
    other_admin = await hire(client, "admin")
    assert (await client.get("/v1/admin/staff", headers=other_admin.headers)).status_code == 200

    till = await open_till()
    await client.patch(
        f"/v1/admin/staff/{other_admin.staff_id}",
        headers=admin.headers,
        json={"role": "manager", "store_ids": [str(till.store_id)]},
    )
    assert (await client.get("/v1/admin/staff", headers=other_admin.headers)).status_code == 403

    await client.patch(
        f"/v1/admin/staff/{other_admin.staff_id}", headers=admin.headers, json={"active": False}
    )
    assert (await client.get("/v1/staff/me", headers=other_admin.headers)).status_code == 401
    again = await client.post(
        "/v1/staff/token", json={"email": other_admin.email, "password": STAFF_PASSWORD}
    )
    assert again.status_code == 401


def test_create_admin_makes_the_first_admin(servers: RunServers) -> None:
    env = run_env(servers)

    def create_admin(email: str, name: str, password: str) -> subprocess.CompletedProcess[str]:
        args = ["--email", email, "--name", name, "--password-stdin"]
        return astrocoffee("create-admin", *args, env=env, stdin=f"{password}\n")

    made = create_admin("root@astrocoffee.test", "Root", "a very long admin password")
    assert made.returncode == 0, made.stderr
    assert "admin root@astrocoffee.test created" in made.stdout
    twice = create_admin("root@astrocoffee.test", "Root", "a very long admin password")
    assert twice.returncode == 1
    weak = create_admin("b@astrocoffee.test", "B", "short")
    assert weak.returncode == 2
