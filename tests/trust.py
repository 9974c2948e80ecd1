"""Trust networks between test organisations, made as users make them: by invitation."""

from __future__ import annotations

from typing import Any

from tests.factories import Caller

Client = Any  # a Litestar AsyncTestClient or an httpx.AsyncClient


async def trust_network(client: Client, admin: Caller, partner_admin: Caller) -> None:
    """A network of O and T: O's admin invites T, T's admin accepts."""
    net = await client.post(
        "/api/v1/trust-networks",
        headers=admin.headers,
        json={"name": "Réseau Kayes", "org_ids": [str(partner_admin.org_id)]},
    )
    assert net.status_code == 201, net.text
    [invitation] = (
        await client.get("/api/v1/trust-network-invitations", headers=partner_admin.headers)
    ).json()
    accepted = await client.post(
        f"/api/v1/trust-network-invitations/{invitation['id']}/accept",
        headers=partner_admin.headers,
    )
    assert accepted.status_code == 200, accepted.text
