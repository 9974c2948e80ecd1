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


@dataclass(frozen=True, slots=True)
class ShownContributors:
    full: list[tuple[str, float]]  # (incident id, share), in the score's order
    masked: list[str]  # opaque ids, sorted
    masked_share: float


@dataclass
class SharingService(SharingRequests, OrganisationAdmin, NetworkCommands):
    db: Database
    incidents: IncidentService
    rules: MaskRules = field(default_factory=MaskRules)
    # The presenter's names cache, forgotten when an organisation is deleted.
    names: OrganisationNames = field(default_factory=OrganisationNames)

    # Who sees what, for what this service and the zone routes show: the incident service's own
    # (one Visibility, built by the composition root).
    visibility: Visibility = field(kw_only=True)

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

    async def contributors(
        self, viewer: Principal | None, contributors: Sequence[tuple[str, float]]
    ) -> ShownContributors:
        """A zone's risk contributors as this viewer may see them: those seen in full under
        their id with their share, in the score's order; those seen only masked under their
        opaque id, last, sorted (no meaningful order) and without a share, their shares summed.
        The one place that decides it, for the API and the pages."""
        if not contributors:
            return ShownContributors([], [], 0.0)
        ids = [uuid.UUID(i) for i, _ in contributors]
        shown = await self.shown_ids(viewer, ids)
        pairs = list(zip(ids, (c for _, c in contributors), strict=True))
        full = [(str(k), c) for k, c in pairs if shown.get(k) == k]
        masked = [(str(shown[k]), c) for k, c in pairs if k in shown and shown[k] != k]
        return ShownContributors(
            full=full,
            masked=sorted(i for i, _ in masked),
            masked_share=round(sum(c for _, c in masked), 4),
        )

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
