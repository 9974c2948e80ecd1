"""The write guard: a sharing change by anyone outside the reporting organisation needs its
consent (a sharing request); every incident write is audited."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from incidents.audit import log as audit
from incidents.errors import Forbidden
from incidents.records.events import IncidentsImported, IncidentWritten
from incidents.records.model import ASSESSMENT_FIELDS, SHARING_FIELDS, WHAT_HAPPENED_FIELDS

# --- changes: consent and audit ----------------------------------------------------------------

# Every change but bookkeeping (version, timestamps, zones): where, what happened, how far to
# trust it and how it is shared (the groups of incidents.records.model).
AUDITED_FIELDS = ("geometry", *WHAT_HAPPENED_FIELDS, *ASSESSMENT_FIELDS, *SHARING_FIELDS)


class SharingGuard:
    """Write guard (incidents.records.events): a sharing change by anyone outside the reporting
    org needs its consent; audits every write, by the event's actor."""

    async def imported(self, session: AsyncSession, event: IncidentsImported) -> None:
        """Batch form for bulk imports of new incidents: one audit insert for the batch."""
        await audit.write(
            session,
            [
                audit.event(
                    "incident.created",
                    written.actor,
                    target_type="incident",
                    target_id=written.incident.id,
                    sharing_level=written.incident.sharing_level.value,
                )
                for written in event.written
            ],
            now=event.at,
        )

    async def written(self, session: AsyncSession, event: IncidentWritten) -> None:
        incident, previous, actor, now = event.incident, event.previous, event.actor, event.at
        if event.links_only:
            return  # a merge or split of reports: audited by incidents.events itself
        if previous is None:
            await audit.write(
                session,
                [
                    audit.event(
                        "incident.created",
                        actor,
                        target_type="incident",
                        target_id=incident.id,
                        sharing_level=incident.sharing_level.value,
                    )
                ],
                now=now,
            )
            return
        changed = [f for f in AUDITED_FIELDS if getattr(previous, f) != getattr(incident, f)]
        sharing_changed = {"sharing_level", "hide_organisation"} & set(changed)
        if sharing_changed and actor is not None and actor.org_id != incident.org_id:
            raise Forbidden(
                "Only the reporting organisation changes how an incident is shared: ask it with "
                f"POST /api/v1/incidents/{incident.id}/sharing-requests.",
                field=sorted(sharing_changed)[0],
            )
        events = []
        if "status" in changed:
            events.append(
                audit.event(
                    "incident.status_changed",
                    actor,
                    target_type="incident",
                    target_id=incident.id,
                    **{"from": previous.status.value, "to": incident.status.value},
                )
            )
        if "sharing_level" in changed:
            events.append(
                audit.event(
                    "incident.sharing_changed",
                    actor,
                    target_type="incident",
                    target_id=incident.id,
                    **{"from": previous.sharing_level.value, "to": incident.sharing_level.value},
                )
            )
        rest = [f for f in changed if f not in ("status", "sharing_level")]
        if rest or not events:
            events.append(
                audit.event(
                    "incident.changed",
                    actor,
                    target_type="incident",
                    target_id=incident.id,
                    fields=rest,
                )
            )
        await audit.write(session, events, now=now)
