"""Sharing, decided in this package; `SharingService` is the one object the API and the CLI use.

Where each concept lives:
- `rules`: the pure rules (sharing levels, access, the masked entry, opaque ids);
- `visibility`: who sees what (read policy, presenter, SQL twin, organisation names, named people);
- `cipher`: narrative encryption at rest and the secret keys;
- `guard`: the write guard (consent for sharing changes, audit of every write);
- `networks`: trust networks and invitations;
- `requests`: sharing (consent) requests;
- `admin`: an organisation's export and deletion, organisations, tokens, the audit log;
- `views`: an incident row shown in full; `tables`: the rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from incidents.db import Database
from incidents.identity.accounts import Principal
from incidents.records.schemas import IncidentFeature
from incidents.records.service import IncidentService
from incidents.records.store import IncidentQuery
from incidents.sharing.admin import AuditEntry, OrganisationAdmin
from incidents.sharing.cipher import Cipher, load_secret_keys, rotate_narratives
from incidents.sharing.guard import AUDITED_FIELDS, SharingGuard
from incidents.sharing.networks import (
    Invitation,
    NetworkCommands,
    TrustNetwork,
    add_member,
    create_network,
    delete_network,
    invite,
    list_networks,
    remove_member,
    with_trust,
)
from incidents.sharing.requests import SharingRequest, SharingRequests
from incidents.sharing.rules import (
    MaskRules,
)
from incidents.sharing.visibility import (
    OrganisationNames,
    SharingPolicy,
    SharingPresenter,
    Visibility,
    public_conditions,
    set_named_viewers,
    visible_in_full,
)

# SharingService and, importable from here too, what the composition root, the key loaders,
# the CLI and the tests use (each name's home is the module it is imported from above).
__all__ = [
    "AUDITED_FIELDS",
    "AuditEntry",
    "Cipher",
    "Invitation",
    "OrganisationNames",
    "SharingGuard",
    "SharingPolicy",
    "SharingPresenter",
    "SharingRequest",
    "SharingService",
    "TrustNetwork",
    "Visibility",
    "add_member",
    "create_network",
    "delete_network",
    "invite",
    "list_networks",
    "load_secret_keys",
    "remove_member",
    "rotate_narratives",
    "visible_in_full",
    "with_trust",
]


@dataclass
class SharingService(SharingRequests, OrganisationAdmin, NetworkCommands):
    db: Database
    incidents: IncidentService
    rules: MaskRules = field(default_factory=MaskRules)
    # The presenter's names cache, forgotten when an organisation is deleted.
    names: OrganisationNames = field(default_factory=OrganisationNames)

    # Who sees what, for what this service and the zone routes show (the same rules, cipher and
    # names as the incident service's presenter).
    visibility: Visibility = field(init=False)

    def __post_init__(self) -> None:
        self.visibility = Visibility(self.rules, self.incidents.cipher, self.names)

    async def shown_ids(
        self, viewer: Principal | None, incident_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, uuid.UUID]:
        """The id each incident may be shown under: itself, or its opaque masked id.

        For lists that name incidents outside the presenter (zone risk contributors).
        """
        if not incident_ids:
            return {}
        async with self.db.read() as session:
            return await self.visibility.shown_ids(session, viewer, incident_ids)

    async def name_viewers(
        self,
        viewer: Principal,
        incident_id: uuid.UUID,
        user_ids: Sequence[uuid.UUID],
        *,
        now: datetime,
    ) -> list[uuid.UUID]:
        async with self.db.transaction() as session:
            return await set_named_viewers(session, viewer, incident_id, user_ids, now=now)

    async def public_list(self, query: IncidentQuery) -> tuple[list[IncidentFeature], str | None]:
        query.extra_conditions += public_conditions()
        return await self.incidents.list(None, query)
