"""Sharing routes: public feed, named viewers, consent requests, trust networks, audit, own data.

The masking presenter and read policy of every incident read path are wired by api/bootstrap.py.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from litestar import Request, Response, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, Parameter, QueryParameter
from msgspec import Meta, Struct

from api.http.auth import (
    ADMINS_OR_OPERATORS,
    ANY_ROLE,
    AUDITED_ADMINS,
    OFFICERS,
    WRITERS,
    TokenCache,
    refusals_audited,
)
from api.http.routes.common import as_utc, parse_bbox, principal_of, utcnow
from incidents.audit import log as audit
from incidents.errors import Forbidden, InvalidField
from incidents.records.model import SharingLevel
from incidents.records.schemas import IncidentCollection
from incidents.records.store import IncidentQuery
from incidents.sharing.admin import AuditEntry
from incidents.sharing.networks import Invitation, TrustNetwork
from incidents.sharing.requests import SharingRequest
from incidents.sharing.service import SharingService

GEOJSON = "application/geo+json"
Reason = Annotated[str, Meta(max_length=2000)]


class NamedViewersIn(Struct, forbid_unknown_fields=True):
    user_ids: Annotated[list[uuid.UUID], Meta(max_length=50)]


class NamedViewersOut(Struct):
    incident_id: uuid.UUID
    user_ids: list[uuid.UUID]


class SharingRequestIn(Struct, forbid_unknown_fields=True):
    sharing_level: SharingLevel
    reason: Reason | None = None


class TrustNetworkIn(Struct, forbid_unknown_fields=True):
    name: Annotated[str, Meta(min_length=1, max_length=200)]
    org_ids: Annotated[list[uuid.UUID], Meta(max_length=500)] = []


class MemberIn(Struct, forbid_unknown_fields=True):
    org_id: uuid.UUID


class MemberRemoved(Struct):
    network_id: uuid.UUID
    org_id: uuid.UUID
    network_deleted: bool = False
    # The network as it stands, for the owner removing a member (not for a member who left).
    network: TrustNetwork | None = None


INVITATION_STATES = ("pending", "accepted", "declined", "withdrawn")
# Audit ids are 32-bit integers on PostgreSQL (`integer`): a larger `before` is a 422 naming
# it, not a database overflow.
MAX_AUDIT_ID = 2**31 - 1


class AuditPage(Struct):
    entries: list[AuditEntry]
    next_before: int | None = None


class Deleted(Struct):
    organisation_id: uuid.UUID
    incidents_kept_anonymous: int


def forget_tokens(cache: TokenCache) -> None:
    """Trust and membership changes must reach cached principals at once."""
    cache.clear()


@get(
    "/api/v1/public/incidents",
    tags=["sharing"],
    summary="Public feed: `clear` incidents only, no token",
    security=[{}],
)
async def public_incidents(
    request: Request[Any, Any, Any],
    sharing_service: NamedDependency[SharingService],
    since: FromQuery[datetime | None] = None,
    until: FromQuery[datetime | None] = None,
    bbox: Annotated[str | None, Parameter(description="minLon,minLat,maxLon,maxLat")] = None,
    limit: Annotated[int, Parameter(ge=1, le=500)] = 100,
    cursor: FromQuery[str | None] = None,
) -> Response[IncidentCollection]:
    query = IncidentQuery(limit=limit, cursor=cursor, since=as_utc(since), until=as_utc(until))
    if bbox:
        query.bbox = parse_bbox(bbox)
    features, next_cursor = await sharing_service.public_list(query)
    body = IncidentCollection(type="FeatureCollection", features=features, next_cursor=next_cursor)
    return Response(body, media_type=GEOJSON)


@put(
    "/api/v1/incidents/{incident_id:uuid}/named-viewers",
    guards=[WRITERS],
    tags=["sharing"],
    summary="Name the people who may see a red incident (its reporter only)",
)
async def put_named_viewers(
    request: Request[Any, Any, Any],
    sharing_service: NamedDependency[SharingService],
    incident_id: FromPath[uuid.UUID],
    data: JSONBody[NamedViewersIn],
) -> NamedViewersOut:
    ids = await sharing_service.name_viewers(
        principal_of(request), incident_id, data.user_ids, now=utcnow()
    )
    return NamedViewersOut(incident_id=incident_id, user_ids=ids)


@post(
    "/api/v1/incidents/{incident_id:uuid}/sharing-requests",
    guards=[OFFICERS],
    tags=["sharing"],
    summary="Ask the reporting organisation to change a sharing level",
    status_code=201,
)
async def request_sharing_change(
    request: Request[Any, Any, Any],
    sharing_service: NamedDependency[SharingService],
    incident_id: FromPath[uuid.UUID],
    data: JSONBody[SharingRequestIn],
) -> SharingRequest:
    return await sharing_service.request_change(
        principal_of(request), incident_id, data.sharing_level, data.reason, now=utcnow()
    )


@get(
    "/api/v1/sharing-requests",
    guards=[ANY_ROLE],
    tags=["sharing"],
    summary="Sharing requests made by or to your organisation",
)
async def list_sharing_requests(
    request: Request[Any, Any, Any],
    sharing_service: NamedDependency[SharingService],
    state_: Annotated[
        str | None, QueryParameter(name="state", description="pending, accepted or refused")
    ] = None,
) -> list[SharingRequest]:
    if state_ is not None and state_ not in ("pending", "accepted", "refused"):
        raise InvalidField("state", "state must be pending, accepted or refused.")
    return await sharing_service.list_requests(principal_of(request), state_)


@post(
    "/api/v1/sharing-requests/{request_id:uuid}/accept",
    guards=[WRITERS],
    tags=["sharing"],
    summary="Accept a sharing request (reporting organisation)",
    status_code=200,
)
async def accept_sharing_request(
    request: Request[Any, Any, Any],
    sharing_service: NamedDependency[SharingService],
    request_id: FromPath[uuid.UUID],
) -> SharingRequest:
    return await sharing_service.decide(
        principal_of(request), request_id, accept=True, now=utcnow()
    )


@post(
    "/api/v1/sharing-requests/{request_id:uuid}/refuse",
    guards=[WRITERS],
    tags=["sharing"],
    summary="Refuse a sharing request (reporting organisation)",
    status_code=200,
)
async def refuse_sharing_request(
    request: Request[Any, Any, Any],
    sharing_service: NamedDependency[SharingService],
    request_id: FromPath[uuid.UUID],
) -> SharingRequest:
    return await sharing_service.decide(
        principal_of(request), request_id, accept=False, now=utcnow()
    )


def _refusals(request: Request[Any, Any, Any]) -> Any:
    return refusals_audited(principal_of(request), request)


@get(
    "/api/v1/trust-networks",
    guards=[AUDITED_ADMINS],
    tags=["sharing"],
    summary="The trust networks your organisation belongs to",
)
async def list_trust_networks(
    request: Request[Any, Any, Any], sharing_service: NamedDependency[SharingService]
) -> list[TrustNetwork]:
    return await sharing_service.networks(principal_of(request))


@post(
    "/api/v1/trust-networks",
    guards=[AUDITED_ADMINS],
    tags=["sharing"],
    summary="Create a trust network owned by your organisation; `org_ids` are invited",
    status_code=201,
)
async def create_trust_network(
    request: Request[Any, Any, Any],
    sharing_service: NamedDependency[SharingService],
    token_cache: NamedDependency[TokenCache],
    data: JSONBody[TrustNetworkIn],
) -> TrustNetwork:
    with _refusals(request):
        network = await sharing_service.create_network(
            principal_of(request), data.name, data.org_ids, now=utcnow()
        )
    forget_tokens(token_cache)
    return network


@get(
    "/api/v1/trust-networks/{network_id:uuid}",
    guards=[AUDITED_ADMINS],
    tags=["sharing"],
    summary="A trust network your organisation belongs to",
)
async def get_trust_network(
    request: Request[Any, Any, Any],
    sharing_service: NamedDependency[SharingService],
    network_id: FromPath[uuid.UUID],
) -> TrustNetwork:
    with _refusals(request):
        return await sharing_service.network(principal_of(request), network_id)


@post(
    "/api/v1/trust-networks/{network_id:uuid}/invitations",
    guards=[AUDITED_ADMINS],
    tags=["sharing"],
    summary="Invite an organisation into your network (its owner's admin)",
    status_code=201,
)
async def invite_to_trust_network(
    request: Request[Any, Any, Any],
    sharing_service: NamedDependency[SharingService],
    network_id: FromPath[uuid.UUID],
    data: JSONBody[MemberIn],
) -> Invitation:
    with _refusals(request):
        return await sharing_service.invite(
            principal_of(request), network_id, data.org_id, now=utcnow()
        )


@get(
    "/api/v1/trust-network-invitations",
    guards=[AUDITED_ADMINS],
    tags=["sharing"],
    summary="Invitations to your organisation and those it sent, newest first",
)
async def list_invitations(
    request: Request[Any, Any, Any],
    sharing_service: NamedDependency[SharingService],
    state_: Annotated[
        str | None,
        QueryParameter(name="state", description="pending, accepted, declined or withdrawn"),
    ] = None,
) -> list[Invitation]:
    if state_ is not None and state_ not in INVITATION_STATES:
        raise InvalidField("state", "state must be pending, accepted, declined or withdrawn.")
    return await sharing_service.invitations(principal_of(request), state_)


async def _decide(
    request: Request[Any, Any, Any],
    sharing_service: SharingService,
    token_cache: TokenCache,
    invitation_id: uuid.UUID,
    *,
    accept: bool,
) -> Invitation:
    with _refusals(request):
        invitation = await sharing_service.decide_invitation(
            principal_of(request), invitation_id, accept=accept, now=utcnow()
        )
    forget_tokens(token_cache)
    return invitation


@post(
    "/api/v1/trust-network-invitations/{invitation_id:uuid}/accept",
    guards=[AUDITED_ADMINS],
    tags=["sharing"],
    summary="Accept an invitation: your organisation joins the network (its admin)",
    status_code=200,
)
async def accept_invitation(
    request: Request[Any, Any, Any],
    sharing_service: NamedDependency[SharingService],
    token_cache: NamedDependency[TokenCache],
    invitation_id: FromPath[uuid.UUID],
) -> Invitation:
    return await _decide(request, sharing_service, token_cache, invitation_id, accept=True)


@post(
    "/api/v1/trust-network-invitations/{invitation_id:uuid}/decline",
    guards=[AUDITED_ADMINS],
    tags=["sharing"],
    summary="Decline an invitation (the invited organisation's admin)",
    status_code=200,
)
async def decline_invitation(
    request: Request[Any, Any, Any],
    sharing_service: NamedDependency[SharingService],
    token_cache: NamedDependency[TokenCache],
    invitation_id: FromPath[uuid.UUID],
) -> Invitation:
    return await _decide(request, sharing_service, token_cache, invitation_id, accept=False)


@delete(
    "/api/v1/trust-network-invitations/{invitation_id:uuid}",
    guards=[AUDITED_ADMINS],
    tags=["sharing"],
    summary="Withdraw a pending invitation (the network owner's admin)",
    status_code=200,
)
async def withdraw_invitation(
    request: Request[Any, Any, Any],
    sharing_service: NamedDependency[SharingService],
    invitation_id: FromPath[uuid.UUID],
) -> Invitation:
    with _refusals(request):
        return await sharing_service.withdraw_invitation(
            principal_of(request), invitation_id, now=utcnow()
        )


@delete(
    "/api/v1/trust-networks/{network_id:uuid}/members/{org_id:uuid}",
    guards=[AUDITED_ADMINS],
    tags=["sharing"],
    summary="Leave a network (your organisation) or remove a member (the owner's admin)",
    status_code=200,
)
async def remove_trust_member(
    request: Request[Any, Any, Any],
    sharing_service: NamedDependency[SharingService],
    token_cache: NamedDependency[TokenCache],
    network_id: FromPath[uuid.UUID],
    org_id: FromPath[uuid.UUID],
) -> MemberRemoved:
    with _refusals(request):
        network = await sharing_service.remove_member(
            principal_of(request), network_id, org_id, now=utcnow()
        )
    forget_tokens(token_cache)
    return MemberRemoved(
        network_id=network_id,
        org_id=org_id,
        network=network if org_id != principal_of(request).org_id else None,
        network_deleted=network is None,
    )


@delete(
    "/api/v1/trust-networks/{network_id:uuid}",
    guards=[AUDITED_ADMINS],
    tags=["sharing"],
    summary="Delete a trust network (the owner's admin)",
)
async def delete_trust_network(
    request: Request[Any, Any, Any],
    sharing_service: NamedDependency[SharingService],
    token_cache: NamedDependency[TokenCache],
    network_id: FromPath[uuid.UUID],
) -> None:
    with _refusals(request):
        await sharing_service.delete_network(principal_of(request), network_id, now=utcnow())
    forget_tokens(token_cache)


@get(
    "/api/v1/audit",
    guards=[ADMINS_OR_OPERATORS],
    tags=["sharing"],
    summary="The audit log, newest first",
    description=(
        "Only the actions of your own organisation's users and tokens (for the platform "
        "operator: the actions of the platform organisation's operators). Filter by `actor` (user "
        "id), `action` (a code such as `incident.read`, or a prefix ending in a dot such as "
        "`incident.`), `target` (an id), `since`/`until`. Page with `before=<next_before>`."
    ),
)
async def get_audit(
    request: Request[Any, Any, Any],
    sharing_service: NamedDependency[SharingService],
    actor: FromQuery[uuid.UUID | None] = None,
    action: Annotated[str | None, Parameter(max_length=64)] = None,
    target: Annotated[str | None, Parameter(max_length=64)] = None,
    since: FromQuery[datetime | None] = None,
    until: FromQuery[datetime | None] = None,
    before: Annotated[int | None, Parameter(ge=1, le=MAX_AUDIT_ID)] = None,
    limit: Annotated[int, Parameter(ge=1, le=500)] = 100,
) -> AuditPage:
    query = audit.AuditQuery(
        org_id=principal_of(request).org_id,
        actor=actor,
        action=action,
        target=target,
        since=as_utc(since),
        until=as_utc(until),
        before_id=before,
        limit=limit,
    )
    entries, next_before = await sharing_service.audit_log(query)
    return AuditPage(entries=entries, next_before=next_before)


@get(
    "/api/v1/organisations/me/export",
    guards=[AUDITED_ADMINS],
    tags=["sharing"],
    summary="Everything stored about your organisation (JSON)",
)
async def export_my_organisation(
    request: Request[Any, Any, Any], sharing_service: NamedDependency[SharingService]
) -> dict[str, Any]:
    return await sharing_service.export_organisation(principal_of(request), now=utcnow())


@delete(
    "/api/v1/organisations/me",
    guards=[AUDITED_ADMINS],
    tags=["sharing"],
    summary="Deleting an organisation is for the platform operator: this always answers 403",
    status_code=200,
)
async def delete_my_organisation(
    request: Request[Any, Any, Any], sharing_service: NamedDependency[SharingService]
) -> Deleted:
    detail = (
        "Creating and deleting organisations is for the platform operator only: ask them "
        "(DELETE /api/v1/organisations/{org_id}, or `sentinelle admin delete-org` on the "
        "server). Export your data first with GET /api/v1/organisations/me/export."
    )
    with _refusals(request):
        raise Forbidden(detail)


ROUTES = [
    public_incidents,
    put_named_viewers,
    request_sharing_change,
    list_sharing_requests,
    accept_sharing_request,
    refuse_sharing_request,
    list_trust_networks,
    create_trust_network,
    get_trust_network,
    invite_to_trust_network,
    list_invitations,
    accept_invitation,
    decline_invitation,
    withdraw_invitation,
    remove_trust_member,
    delete_trust_network,
    get_audit,
    export_my_organisation,
    delete_my_organisation,
]
