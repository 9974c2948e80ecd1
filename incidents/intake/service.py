"""Field intake: Kobo and ODK Collect submissions and SMS become incidents; unknown numbers wait
for review; the ODK Collect logins of API tokens."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import math
import re
import secrets
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import anyio
import msgspec
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from incidents.db import Database
from incidents.errors import Conflict, Forbidden, InvalidField, NotFound
from incidents.identity.accounts import Principal, create_user
from incidents.intake.kobo import instance_ids, kobo_to_incident
from incidents.intake.openrosa import (
    REALM,
    AuthRequired,
    BasicAnswer,
    Submission,
    constant_time_equal,
    digest_response,
    ha1,
    nonce_fresh,
    parse_authorization,
    uri_matches,
)
from incidents.intake.sms import (
    SMS_MAX_SEGMENTS,
    SmsParse,
    fit_sms,
    parse_sms,
    sms_size,
    to_gsm7,
)
from incidents.intake.sms_eval import distance_km
from incidents.intake.tables import FormInstanceRow, FormLoginRow, HeldSmsRow, IntakeSecretRow
from incidents.interop.rows import IncidentInput, PlaceFinder
from incidents.interop.service import update_from_source
from incidents.records.model import Role
from incidents.records.schemas import IncidentIn
from incidents.records.service import IncidentService, name_protocol_readers
from incidents.records.store import IncidentStore, row_values
from incidents.records.tables import ApiTokenRow, IncidentRow, OrganisationRow, UserRow
from incidents.records.validation import incident_from_input

SECRET_PREFIX = "sik_"  # noqa: S105 - a prefix, not a secret
# Alphabet of reference codes: no 0/O or 1/I, which people misread on a phone screen.
_CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
#: A sender as gateways give it: a phone number, or an operator's alphanumeric sender id.
_SENDER = re.compile(r"[+0-9A-Za-z][0-9A-Za-z .()\-]{0,31}")
_SENDER_MAX = 32  # held_sms.sender
# Internal ids (incidents, alerts, users, organisations) never go into an SMS reply.
_UUID = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}", re.I)

_REPORTING_ROLES = (Role.REPORTER, Role.OFFICER, Role.ADMIN)
#: A complete SMS from the same phone within this time may correct the previous report.
CORRECTION_WINDOW = timedelta(hours=1)
#: ... when it names the same type, or a place this close to the earlier one (docs/sms.md).
CORRECTION_SAME_PLACE_KM = 25.0

#: The alerts module's acknowledgement: (who, code, now) -> True when an alert was acknowledged.
AlertAcknowledger = Callable[[Principal, str, datetime], Awaitable[bool]]


# ---------------------------------------------------------------------------- secrets and phones


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.strip().encode("utf-8")).hexdigest()


async def set_intake_secret(session: AsyncSession, org_id: uuid.UUID, *, now: datetime) -> str:
    """A new intake secret for the organisation (the previous one stops working); shown once."""
    from incidents.records.tables import OrganisationRow

    org = await session.get(OrganisationRow, org_id)
    if org is None or org.deleted_at is not None:
        raise NotFound(f"No organisation {org_id}; create it with `sentinelle admin create-org`.")
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    row = await session.get(IntakeSecretRow, org_id)
    if row is None:
        session.add(IntakeSecretRow(org_id=org_id, secret_hash=hash_secret(secret), created_at=now))
    else:
        row.secret_hash, row.created_at = hash_secret(secret), now
    await session.flush()
    return secret


async def org_for_secret(session: AsyncSession, secret: str | None) -> uuid.UUID:
    """The organisation whose intake secret this is, or Forbidden."""
    if not secret or not secret.strip():
        raise Forbidden(
            "Send the organisation's intake secret in the X-Sentinelle-Intake-Secret header or "
            "?secret=; an administrator creates it with `sentinelle intake set-secret`."
        )
    from incidents.records.tables import OrganisationRow

    org_id = (
        await session.execute(
            select(IntakeSecretRow.org_id)
            .join(OrganisationRow, OrganisationRow.id == IntakeSecretRow.org_id)
            .where(
                IntakeSecretRow.secret_hash == hash_secret(secret),
                OrganisationRow.deleted_at.is_(None),
            )
        )
    ).scalar_one_or_none()
    if org_id is None:
        raise Forbidden(
            "This intake secret is unknown or was replaced; ask an administrator for the current "
            "one (`sentinelle intake set-secret`)."
        )
    return org_id


def normalise_phone(raw: str, *, country_code: str = "223") -> str:
    """+<digits>: separators dropped, 00 read as +, 8-digit local numbers given `country_code`
    (Mali's numbers have 8 digits), so "76 12 34 56", "0022376123456" and "+223 76123456" match."""
    text = raw.strip()
    digits = re.sub(r"\D", "", text)
    if not digits or len(digits) < 6 or len(digits) > 15:
        raise InvalidField("phone", f"{raw!r} is not a phone number; write it as +22376123456.")
    if text.startswith("+"):
        return "+" + digits
    if digits.startswith("00"):
        return "+" + digits[2:]
    if len(digits) == 8:
        return "+" + country_code + digits
    return "+" + digits


async def register_phone(session: AsyncSession, user_id: uuid.UUID, phone: str) -> str:
    """Tie a phone number to a user: SMS from it are reported as that user."""
    number = normalise_phone(phone)
    user = await session.get(UserRow, user_id)
    if user is None or user.deleted_at is not None:
        raise NotFound(f"No user {user_id}.")
    taken = (
        await session.execute(select(UserRow.id).where(UserRow.phone == number))
    ).scalar_one_or_none()
    if taken is not None and taken != user_id:
        raise Conflict(f"{number} is already registered to another user; unregister it first.")
    user.phone = number
    await session.flush()
    return number


async def create_phone_user(
    session: AsyncSession,
    org_id: uuid.UUID,
    phone: str,
    *,
    role: Role,
    now: datetime,
    name: str | None = None,
) -> uuid.UUID:
    """A new user of the organisation who reports only by SMS from this phone."""
    number = normalise_phone(phone)
    taken = (
        await session.execute(select(UserRow.id).where(UserRow.phone == number))
    ).scalar_one_or_none()
    if taken is not None:
        raise Conflict(f"{number} is already registered to another user; unregister it first.")
    return await create_user(
        session, org_id, name=name or f"SMS {number[-4:]}", role=role, now=now, phone=number
    )


async def principal_for_phone(
    session: AsyncSession, phone: str, *, org_id: uuid.UUID
) -> Principal | None:
    """The user of `org_id` this phone is registered to. A number registered in another
    organisation is unknown here: a gateway's secret speaks only for its own organisation."""
    try:
        number = normalise_phone(phone)
    except InvalidField:
        return None
    row = (
        await session.execute(
            select(UserRow.id, UserRow.org_id, UserRow.role).where(
                UserRow.phone == number, UserRow.org_id == org_id, UserRow.deleted_at.is_(None)
            )
        )
    ).first()
    if row is None:
        return None
    return Principal(user_id=row[0], org_id=row[1], role=Role(row[2]))


def reference_code(incident_id: uuid.UUID) -> str:
    """Six characters read off an incident id, to quote in an SMS reply."""
    number = incident_id.int
    chars = []
    for _ in range(6):
        number, digit = divmod(number, len(_CODE_ALPHABET))
        chars.append(_CODE_ALPHABET[digit])
    return "".join(chars)


def check_sms(sender: str, text: str) -> None:
    """Refuse what no phone sends: more than SMS_MAX_SEGMENTS segments, or a sender that is not
    a number (or an alphanumeric sender id) of at most 32 characters."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidField("text", "The SMS has no text; send the message's text in `text`.")
    size = sms_size(text)
    if size.segments > SMS_MAX_SEGMENTS:
        raise InvalidField(
            "text",
            f"The SMS is longer than {SMS_MAX_SEGMENTS} segments ({size.max_units} "
            f"{'GSM-7' if size.alphabet == 'gsm7' else 'UCS-2'} characters); send a shorter "
            "message.",
        )
    if not isinstance(sender, str) or not sender.strip():
        raise InvalidField("sender", "Give the sender's phone number, e.g. +22376123456.")
    if len(sender.strip()) > _SENDER_MAX or not _SENDER.fullmatch(sender.strip()):
        raise InvalidField(
            "sender",
            f"The sender must be a phone number of at most {_SENDER_MAX} characters, e.g. "
            "+22376123456.",
        )


def without_ids(reply: str) -> str:
    """An SMS reply with anything shaped like an internal id taken out."""
    return " ".join(_UUID.sub("", reply).split())


def _with_reference(reply: str, code: str, language: str, segments: int = 1) -> str:
    label = "ref" if language.startswith("en") else "réf"
    body = reply.removeprefix("Sentinelle: ")
    # In septets, as the phone network counts them (€, [, ] ... count two); cut between words.
    return fit_sms(to_gsm7(f"Sentinelle {label} {code}: {body}"), segments=segments)


# ---------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class KoboReceived:
    incident_id: uuid.UUID
    created: bool
    updated: bool = False


@dataclass(frozen=True, slots=True)
class FormReceived:
    """What an XForm submission did: `created`, `updated` (an edit, or Kobo's re-sent answers
    changed), `unchanged`, or `duplicate` (this instance was received before: nothing done)."""

    incident_id: uuid.UUID
    outcome: str


@dataclass(frozen=True, slots=True)
class FormLogin:
    """An ODK Collect login, shown once: the password is not kept."""

    username: str
    password: str


#: Form logins: opaque user names (a Digest user name crosses plain HTTP; it names nobody) and
#: passwords of 4 groups of 4 characters (~79 bits) nobody misreads on a phone.
_LOGIN_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
_BAD_LOGIN = (
    "Unknown ODK user name or wrong password, or the login was revoked; in ODK Collect set the "
    "user name and password Sentinelle gave (POST /api/v1/intake/form-login makes a new one)."
)


def _login_text(groups: int) -> str:
    return "-".join(
        "".join(secrets.choice(_LOGIN_ALPHABET) for _ in range(4)) for _ in range(groups)
    )


@dataclass(frozen=True, slots=True)
class SmsReceived:
    """What happened to an SMS: `created`, `updated` (it corrected the sender's report of the
    last hour), `replayed`, `held`, `incomplete`, `acknowledged`, `unknown_code`; `reply` is the
    answer to send back."""

    status: str
    reply: str
    incident_id: uuid.UUID | None = None
    reference: str | None = None
    held_id: uuid.UUID | None = None
    missing: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class HeldSms:
    id: uuid.UUID
    sender: str
    text: str
    received_at: datetime
    reason: str
    state: str
    incident_id: uuid.UUID | None
    reviewed_by: uuid.UUID | None
    reviewed_at: datetime | None


def _outcome(created: bool, updated: bool) -> str:
    return "created" if created else "updated" if updated else "unchanged"


def _instance_row(
    org_id: uuid.UUID,
    instance: str,
    incident_id: uuid.UUID,
    now: datetime,
    *,
    replaced: bool = False,
) -> FormInstanceRow:
    return FormInstanceRow(
        org_id=org_id,
        instance_id=instance,
        incident_id=incident_id,
        received_at=now,
        replaced=replaced,
    )


def instance_key(value: str) -> str:
    """An instance id as stored: without `uuid:`, lower case."""
    return value.strip().removeprefix("uuid:").lower()


def _held(row: HeldSmsRow) -> HeldSms:
    return HeldSms(
        id=row.id,
        sender=row.sender,
        text=row.text,
        received_at=row.received_at,
        reason=row.reason,
        state=row.state,
        incident_id=row.incident_id,
        reviewed_by=row.reviewed_by,
        reviewed_at=row.reviewed_at,
    )


_HELD_REPLY = {
    "fr": "Sentinelle: message reçu. Ce numéro n'est pas enregistré: un responsable sécurité "
    "le vérifiera avant toute diffusion.",
    "en": "Sentinelle: message received. This number is not registered: a security officer "
    "will check it before anything is shared.",
}
_UNKNOWN_CODE_REPLY = {
    "fr": "Sentinelle: code d'alerte {code} inconnu ou déjà confirmé. Vérifiez le code reçu.",
    "en": "Sentinelle: alert code {code} unknown or already acknowledged. Check the code.",
}


# ---------------------------------------------------------------------------- service


@dataclass
class IntakeService:
    db: Database
    incidents: IncidentService
    max_accuracy_m: float = 500.0
    gazetteer: PlaceFinder | None = None
    acknowledge: AlertAcknowledger | None = None
    #: Segments an SMS reply may take (the operator's setting; 1 = one 160-character SMS).
    reply_segments: int = 1
    _stand_in_sealed: str | None = field(default=None, init=False, repr=False)

    async def _store_new(
        self,
        payload: Mapping[str, Any],
        *,
        org_id: uuid.UUID,
        user_id: uuid.UUID | None,
        now: datetime,
        actor: Principal | None = None,
    ) -> tuple[uuid.UUID, bool, bool]:
        """Create, or (same external id) update when the source changed: (id, created, updated).

        `actor`: the signed-in person acting (an officer publishing a held SMS); None for what a
        gateway sends (Kobo, SMS), which no signed-in person does."""
        try:
            data = msgspec.convert(dict(payload), IncidentIn, strict=False)
        except msgspec.ValidationError as exc:
            text = str(exc)
            name = text.split("at `$.", 1)[1].rstrip("`") if "at `$." in text else "submission"
            raise InvalidField(name, text) from None
        external_id = data.external_id
        if external_id is not None:
            found = await self._existing(org_id, external_id, data, now, actor)
            if found is not None:
                return found
        incident, geom = incident_from_input(
            data, org_id=org_id, user_id=user_id, now=now, rules=self.incidents.rules
        )
        try:
            async with self.db.transaction() as session:
                cipher = self.incidents.cipher
                await IncidentStore(session, cipher).add_many(
                    [row_values(incident, geom, cipher=cipher)]
                )
                await name_protocol_readers(session, incident, data, now=now)
                await self.incidents.events.written(
                    session, incident, geom, None, actor=actor, at=now
                )
        except IntegrityError:
            # The same submission arrived twice at once: the other request stored it.
            if external_id is None:
                raise
            found = await self._existing(org_id, external_id, data, now, actor)
            if found is None:
                raise
            return found
        return incident.id, True, False

    async def _existing(
        self,
        org_id: uuid.UUID,
        external_id: str,
        data: IncidentIn,
        now: datetime,
        actor: Principal | None,
    ) -> tuple[uuid.UUID, bool, bool] | None:
        async with self.db.transaction() as session:
            row = (
                await session.scalars(
                    select(IncidentRow).where(
                        IncidentRow.org_id == org_id, IncidentRow.external_id == external_id
                    )
                )
            ).one_or_none()
            if row is None:
                return None
            return row.id, False, await self._update(session, row, data, now, actor)

    async def _update(
        self,
        session: AsyncSession,
        row: IncidentRow,
        data: IncidentIn,
        now: datetime,
        actor: Principal | None,
    ) -> bool:
        """What the source now says, as a new version of the stored incident (False: the same)."""
        return await update_from_source(
            session,
            row,
            data,
            now=now,
            rules=self.incidents.rules,
            events=self.incidents.events,
            actor=actor,
            cipher=self.incidents.cipher,
        )

    # -- Kobo and ODK Collect: XForm instances

    async def receive_kobo(
        self, secret: str | None, payload: Mapping[str, Any], *, now: datetime
    ) -> KoboReceived:
        """One KoboToolbox submission, filed in the secret's organisation whatever the payload
        says; a resent one (same `_uuid`) creates nothing new, an edited one (`meta/deprecatedID`
        naming an earlier instance) is a new version of that instance's incident."""
        async with self.db.read() as session:
            org_id = await org_for_secret(session, secret)
        incident = await self._form_incident(payload)
        instance, deprecated, root = instance_ids(payload)
        received = await self._receive_instance(
            incident,
            org_id=org_id,
            user_id=None,
            actor=None,
            instance=instance,
            deprecated=deprecated,
            root=root,
            now=now,
            resend_updates=True,
        )
        return KoboReceived(
            received.incident_id,
            received.outcome == "created",
            received.outcome == "updated",
        )

    async def receive_openrosa(
        self, who: Principal, submission: Submission, *, now: datetime
    ) -> FormReceived:
        """An ODK Collect submission by a signed-in reporter: new, a re-sent instance (nothing
        done: `duplicate`) or an edit of an earlier instance of the same organisation."""
        if who.role not in _REPORTING_ROLES:
            raise Forbidden(
                f"A user with the role {who.role.value} cannot report incidents; use the ODK "
                "login of a reporter, an officer or an administrator."
            )
        incident = await self._form_incident(submission.fields)
        return await self._receive_instance(
            incident,
            org_id=who.org_id,
            user_id=who.user_id,
            actor=who,
            instance=submission.instance_id,
            deprecated=submission.deprecated_id,
            root=submission.fields.get("meta/rootUuid") or None,
            now=now,
            resend_updates=False,
        )

    async def _form_incident(self, fields: Mapping[str, Any]) -> IncidentInput:
        result = await anyio.to_thread.run_sync(
            functools.partial(
                kobo_to_incident,
                fields,
                max_accuracy_m=self.max_accuracy_m,
                gazetteer=self.gazetteer,
            )
        )
        if result.incident is None:
            raise InvalidField(result.field or "submission", result.error or "not an incident")
        return result.incident

    async def _receive_instance(
        self,
        incident: IncidentInput,
        *,
        org_id: uuid.UUID,
        user_id: uuid.UUID | None,
        actor: Principal | None,
        instance: str | None,
        deprecated: str | None,
        root: str | None,
        now: datetime,
        resend_updates: bool,
    ) -> FormReceived:
        """The one rule for XForm instances, whichever way they come.

        * An instance received before is a duplicate: nothing changes, except that Kobo may
          re-send the latest instance of an incident with changed answers (`resend_updates`),
          which updates it; an instance an edit replaced never goes back.
        * An edit (`deprecated` names an earlier instance of this organisation, or else `root`
          Kobo's first one) is a new version of that incident: audited, levels and alerts as
          for any change; the organisation's judgement (status, sharing) stays.
        * Anything else is a new incident, external id `kobo:<instance>`.
        Instances are looked up in the organisation only: another organisation's are unknown.
        """
        if instance is None:
            incident_id, created, updated = await self._store_new(
                incident, org_id=org_id, user_id=user_id, now=now, actor=actor
            )
            return FormReceived(incident_id, _outcome(created, updated))
        for _attempt in range(2):
            known = await self._instance(org_id, instance)
            if known is not None:
                incident_id, replaced = known
                if replaced or not resend_updates:
                    return FormReceived(incident_id, "duplicate")
                changed = await self._new_version(
                    org_id, incident_id, incident, now=now, actor=actor, instance=None
                )
                return FormReceived(incident_id, "updated" if changed else "unchanged")
            if deprecated is not None:
                original = await self._instance(org_id, deprecated)
                if original is None and root is not None:
                    original = await self._instance(org_id, instance_key(root))
                if original is None:
                    raise InvalidField(
                        "meta/deprecatedID",
                        f"This is an edit of submission uuid:{deprecated}, which your "
                        "organisation never sent to Sentinelle; send the original submission "
                        "first, or fill in a new form.",
                    )
                try:
                    changed = await self._new_version(
                        org_id,
                        original[0],
                        incident,
                        now=now,
                        actor=actor,
                        instance=(instance, deprecated),
                    )
                except IntegrityError:
                    continue  # the same edit arrived twice at once: the other one stored it
                return FormReceived(original[0], "updated" if changed else "unchanged")
            incident = {**incident, "external_id": f"kobo:{instance}"}
            incident_id, created, updated = await self._store_new(
                incident, org_id=org_id, user_id=user_id, now=now, actor=actor
            )
            await self._remember_instance(org_id, instance, incident_id, now)
            return FormReceived(incident_id, _outcome(created, updated))
        raise Conflict("The same edit is being received twice at once; send it again.")

    async def _instance(self, org_id: uuid.UUID, instance: str) -> tuple[uuid.UUID, bool] | None:
        """(incident id, replaced by an edit) of an instance this organisation sent, or None.
        Instances stored before the form_instances table are found by their external id."""
        async with self.db.read() as session:
            row = (
                await session.execute(
                    select(FormInstanceRow.incident_id, FormInstanceRow.replaced).where(
                        FormInstanceRow.org_id == org_id, FormInstanceRow.instance_id == instance
                    )
                )
            ).first()
            if row is not None:
                return row[0], bool(row[1])
            legacy = await session.scalar(
                select(IncidentRow.id).where(
                    IncidentRow.org_id == org_id, IncidentRow.external_id == f"kobo:{instance}"
                )
            )
            return (legacy, False) if legacy is not None else None

    async def _remember_instance(
        self, org_id: uuid.UUID, instance: str, incident_id: uuid.UUID, now: datetime
    ) -> None:
        try:
            async with self.db.transaction() as session:
                session.add(_instance_row(org_id, instance, incident_id, now))
        except IntegrityError:
            pass  # already remembered (the same instance twice at once, or a legacy re-send)

    async def _new_version(
        self,
        org_id: uuid.UUID,
        incident_id: uuid.UUID,
        incident: IncidentInput,
        *,
        now: datetime,
        actor: Principal | None,
        instance: tuple[str, str] | None,
    ) -> bool:
        """What the form now says, as a new version of the incident (False: nothing changed);
        `instance` = (new, replaced) records an edit in the same transaction."""
        async with self.db.transaction() as session:
            row = await session.get(IncidentRow, incident_id)
            if row is None or row.org_id != org_id:
                raise InvalidField(
                    "meta/deprecatedID",
                    "The incident this submission edits was deleted; fill in a new form.",
                )
            try:
                data = msgspec.convert(
                    {**incident, "external_id": row.external_id}, IncidentIn, strict=False
                )
            except msgspec.ValidationError as exc:
                raise InvalidField("submission", str(exc)) from None
            changed = await self._update(session, row, data, now, actor)
            if instance is not None:
                new, replaced = instance
                old = await session.get(FormInstanceRow, (org_id, replaced))
                if old is None:
                    session.add(_instance_row(org_id, replaced, incident_id, now, replaced=True))
                else:
                    old.replaced = True
                session.add(_instance_row(org_id, new, incident_id, now))
                await session.flush()
            return changed

    # -- ODK Collect logins (HTTP Digest)

    async def set_form_login(self, who: Principal, *, now: datetime) -> FormLogin:
        """A new ODK Collect password for the caller's token (the previous one stops working;
        the user name stays). Revoking the token ends the login."""
        if who.token_id is None:
            raise Forbidden("Sign in with your API token to make an ODK login.")
        if who.role not in _REPORTING_ROLES:
            raise Forbidden(
                f"A user with the role {who.role.value} reports no incidents, so has no ODK "
                "login; a reporter, an officer or an administrator makes one."
            )
        password = _login_text(4)
        async with self.db.transaction() as session:
            row = await session.get(FormLoginRow, who.token_id)
            if row is None:
                username = "odk-" + _login_text(2).replace("-", "")
                row = FormLoginRow(token_id=who.token_id, username=username, created_at=now)
                session.add(row)
            row.ha1_sealed = self._seal(ha1(row.username, password))
            row.created_at = now
            username = row.username
        return FormLogin(username, password)

    def _seal(self, text: str) -> str:
        cipher = self.incidents.cipher
        return cipher.seal(text) if cipher is not None else text

    def _open(self, stored: str) -> str:
        cipher = self.incidents.cipher
        return cipher.open(stored) if cipher is not None else stored

    async def end_form_login(self, who: Principal) -> None:
        """The caller's token has no ODK login any more (ODK Collect's next request gets 401)."""
        if who.token_id is None:
            raise Forbidden("Sign in with your API token.")
        async with self.db.transaction() as session:
            await session.execute(delete(FormLoginRow).where(FormLoginRow.token_id == who.token_id))

    async def form_principal(
        self, authorization: str | None, *, method: str, path: str, query: str, now: datetime
    ) -> Principal:
        """The user an ODK Collect request authenticates as (Digest, or Basic over https), or
        AuthRequired. An unknown user name, a wrong password and a revoked token take the same
        path and answer alike (the comparison is constant-time)."""
        answer = parse_authorization(authorization or "")
        if answer is None:
            raise AuthRequired("Sign in with the ODK user name and password Sentinelle gave you.")
        async with self.db.read() as session:
            found = (
                await session.execute(
                    select(
                        FormLoginRow.ha1_sealed,
                        ApiTokenRow.id,
                        UserRow.id,
                        UserRow.org_id,
                        UserRow.role,
                    )
                    .join(ApiTokenRow, ApiTokenRow.id == FormLoginRow.token_id)
                    .join(UserRow, UserRow.id == ApiTokenRow.user_id)
                    .join(OrganisationRow, OrganisationRow.id == UserRow.org_id)
                    .where(
                        FormLoginRow.username == answer.username[:64],
                        ApiTokenRow.revoked_at.is_(None),
                        UserRow.deleted_at.is_(None),
                        OrganisationRow.deleted_at.is_(None),
                    )
                )
            ).first()
        # Unknown user names open and compare a stand-in: the same work as a wrong password.
        stored = found[0] if found is not None else self._stand_in()
        try:
            expected_ha1 = self._open(stored)
        except ValueError:  # sealed with a retired key: the login must be made again
            expected_ha1 = ""
        if isinstance(answer, BasicAnswer):
            good = constant_time_equal(ha1(answer.username, answer.password), expected_ha1)
            stale = False
        else:
            good = constant_time_equal(
                digest_response(expected_ha1, method, answer), answer.response
            )
            good = good and answer.realm == REALM and answer.qop == "auth"
            good = good and answer.algorithm.upper() == "MD5"
            good = good and uri_matches(answer.uri, path, query)
            stale = good and not nonce_fresh(answer.nonce, now)
        if found is None or not good:
            raise AuthRequired(_BAD_LOGIN)
        if stale:
            raise AuthRequired("The login expired; sign in again.", stale=True)
        _, token_id, user_id, org_id, role = found
        return Principal(user_id=user_id, org_id=org_id, role=Role(role), token_id=token_id)

    def _stand_in(self) -> str:
        if self._stand_in_sealed is None:
            self._stand_in_sealed = self._seal(ha1("odk-nobody", secrets.token_urlsafe(16)))
        return self._stand_in_sealed

    # -- SMS

    async def receive_sms(
        self,
        secret: str | None,
        *,
        sender: str,
        text: str,
        received_at: datetime,
        now: datetime,
        acknowledge: AlertAcknowledger | None = None,
    ) -> SmsReceived:
        """A phone registered in the secret's organisation reports as its user (or acknowledges
        one of the alerts sent to it); any other number is held for that organisation's officers.
        """
        check_sms(sender, text)
        async with self.db.read() as session:
            gateway_org = await org_for_secret(session, secret)
            reporter = await principal_for_phone(session, sender, org_id=gateway_org)
        parse = await self._parse(text, received_at)
        result = await self._answer(
            gateway_org,
            reporter,
            parse,
            sender=sender,
            text=text,
            received_at=received_at,
            now=now,
            acknowledge=acknowledge or self.acknowledge,
        )
        return dataclasses.replace(result, reply=without_ids(result.reply))

    async def _parse(self, text: str, received_at: datetime) -> SmsParse:
        # Typo-tolerant matching is CPU work: off the event loop, so other requests go on.
        return await anyio.to_thread.run_sync(
            functools.partial(parse_sms, text, now=received_at, gazetteer=self.gazetteer)
        )

    async def _answer(
        self,
        gateway_org: uuid.UUID,
        reporter: Principal | None,
        parse: SmsParse,
        *,
        sender: str,
        text: str,
        received_at: datetime,
        now: datetime,
        acknowledge: AlertAcknowledger | None,
    ) -> SmsReceived:
        if reporter is None:
            held_id = uuid.uuid4()
            async with self.db.transaction() as session:
                session.add(
                    HeldSmsRow(
                        id=held_id,
                        org_id=gateway_org,
                        sender=sender.strip(),
                        text=text,
                        received_at=received_at,
                        reason="unknown_sender",
                        state="held",
                    )
                )
            return SmsReceived("held", _HELD_REPLY[parse.language], held_id=held_id)
        if parse.kind == "ack":
            assert parse.ack_code is not None
            # The acknowledger only touches alerts sent to this phone's user.
            done = acknowledge is not None and await acknowledge(reporter, parse.ack_code, now)
            if not done:
                return SmsReceived(
                    "unknown_code", _UNKNOWN_CODE_REPLY[parse.language].format(code=parse.ack_code)
                )
            return SmsReceived("acknowledged", parse.reply(segments=self.reply_segments))
        if parse.kind == "incomplete" and parse.missing == ["location"]:
            # The type is known, the place is not: kept for the officers, and the reply asks
            # for the nearest town; the sender's complete re-send closes it (see below).
            held_id = uuid.uuid4()
            async with self.db.transaction() as session:
                session.add(
                    HeldSmsRow(
                        id=held_id,
                        org_id=gateway_org,
                        sender=sender.strip(),
                        text=text,
                        received_at=received_at,
                        reason="unknown_place",
                        state="held",
                    )
                )
            return SmsReceived(
                "held",
                parse.reply(segments=self.reply_segments),
                held_id=held_id,
                missing=["location"],
            )
        if parse.kind == "incomplete":
            return SmsReceived(
                "incomplete", parse.reply(segments=self.reply_segments), missing=list(parse.missing)
            )
        if reporter.role not in _REPORTING_ROLES:
            raise Forbidden(
                f"This phone belongs to a user with the role {reporter.role.value}, who cannot "
                "report incidents; register the phone of a reporter or an officer."
            )
        # A gateway that retries the same message must not create a second incident.
        digest = hashlib.sha256(
            f"{normalise_phone(sender)}|{received_at.isoformat()}|{text}".encode()
        ).hexdigest()[:32]
        external_id = f"sms:{digest}"
        replayed = await self._incident_with_external_id(reporter.org_id, external_id)
        if replayed is not None:
            code = reference_code(replayed)
            return SmsReceived(
                "replayed",
                parse.reply(segments=self.reply_segments, reference=code),
                incident_id=replayed,
                reference=code,
            )
        earlier = await self._report_to_correct(reporter, parse, now)
        if earlier is not None:
            incident_id, changed = await self._correct(earlier, parse, now)
            code = reference_code(incident_id)
            await self._close_held_unknown_place(gateway_org, sender, received_at, incident_id, now)
            return SmsReceived(
                "updated" if changed else "replayed",
                parse.reply(segments=self.reply_segments, reference=code, corrected=True),
                incident_id=incident_id,
                reference=code,
            )
        payload = {**parse.incident, "external_id": external_id}
        incident_id, created, _ = await self._store_new(
            payload, org_id=reporter.org_id, user_id=reporter.user_id, now=now
        )
        code = reference_code(incident_id)
        await self._close_held_unknown_place(gateway_org, sender, received_at, incident_id, now)
        return SmsReceived(
            "created" if created else "replayed",
            parse.reply(segments=self.reply_segments, reference=code),
            incident_id=incident_id,
            reference=code,
        )

    # -- SMS corrections: a re-sent message updates the sender's report of the last hour

    async def _incident_with_external_id(
        self, org_id: uuid.UUID, external_id: str
    ) -> uuid.UUID | None:
        async with self.db.read() as session:
            found: uuid.UUID | None = (
                await session.execute(
                    select(IncidentRow.id).where(
                        IncidentRow.org_id == org_id, IncidentRow.external_id == external_id
                    )
                )
            ).scalar_one_or_none()
            return found

    async def _report_to_correct(
        self, reporter: Principal, parse: SmsParse, now: datetime
    ) -> IncidentRow | None:
        """The sender's last SMS report of the past hour that this message
        corrects: it starts with CORRECTION/RECTIF, or names the same type or a place within
        CORRECTION_SAME_PLACE_KM; never one an officer already took up, never after NOUVEAU."""
        if parse.intent == "new":
            return None
        async with self.db.read() as session:
            row = (
                await session.scalars(
                    select(IncidentRow)
                    .where(
                        IncidentRow.org_id == reporter.org_id,
                        IncidentRow.user_id == reporter.user_id,
                        IncidentRow.external_id.like("sms:%"),
                        IncidentRow.status == "reported",
                        IncidentRow.created_at >= now - CORRECTION_WINDOW,
                    )
                    .order_by(IncidentRow.created_at.desc())
                    .limit(1)
                )
            ).one_or_none()
            if row is None:
                return None
            session.expunge(row)
        if parse.intent == "correction" or row.type == parse.incident.get("type"):
            return row
        geometry = parse.incident.get("geometry") or {}
        coordinates = geometry.get("coordinates") if isinstance(geometry, dict) else None
        if coordinates and math.isfinite(row.lat) and math.isfinite(row.lon):
            lon, lat = coordinates
            if distance_km(lat, lon, row.lat, row.lon) <= CORRECTION_SAME_PLACE_KM:
                return row
        return None

    async def _correct(
        self, row: IncidentRow, parse: SmsParse, now: datetime
    ) -> tuple[uuid.UUID, bool]:
        """A new version of the earlier report with what the re-sent message says (audited
        like any edit); the external id stays the first message's."""
        payload = {**parse.incident, "external_id": row.external_id}
        try:
            data = msgspec.convert(payload, IncidentIn, strict=False)
        except msgspec.ValidationError as exc:
            raise InvalidField("text", str(exc)) from None
        async with self.db.transaction() as session:
            current = await session.get(IncidentRow, row.id)
            if current is None:
                raise NotFound("The report to correct was deleted meanwhile.")
            changed = await update_from_source(
                session,
                current,
                data,
                now=now,
                rules=self.incidents.rules,
                events=self.incidents.events,
                cipher=self.incidents.cipher,
            )
        return row.id, changed

    async def _close_held_unknown_place(
        self,
        org_id: uuid.UUID,
        sender: str,
        received_at: datetime,
        incident_id: uuid.UUID,
        now: datetime,
    ) -> None:
        """The sender's held SMS of the last hour whose place was unknown are answered by this
        report: they leave the officers' queue as `resolved`, pointing to it."""
        async with self.db.transaction() as session:
            await session.execute(
                update(HeldSmsRow)
                .where(
                    HeldSmsRow.org_id == org_id,
                    HeldSmsRow.sender == sender.strip(),
                    HeldSmsRow.reason == "unknown_place",
                    HeldSmsRow.state == "held",
                    HeldSmsRow.received_at >= received_at - CORRECTION_WINDOW,
                )
                .values(state="resolved", incident_id=incident_id, reviewed_at=now)
            )

    # -- held SMS, for officers

    async def list_held(self, viewer: Principal, *, state: str = "held") -> list[HeldSms]:
        self._officer(viewer)
        async with self.db.read() as session:
            rows = await session.scalars(
                select(HeldSmsRow)
                .where(HeldSmsRow.org_id == viewer.org_id, HeldSmsRow.state == state)
                .order_by(HeldSmsRow.received_at.desc())
                .limit(500)
            )
            return [_held(r) for r in rows.all()]

    async def publish_held(
        self,
        viewer: Principal,
        held_id: uuid.UUID,
        *,
        now: datetime,
        corrections: Mapping[str, Any] | None = None,
    ) -> tuple[HeldSms, uuid.UUID]:
        """The officer vouches for a held SMS: it becomes an incident reported by the officer.

        `corrections` (API field names) fill in or fix what the SMS did not say clearly.
        """
        row = await self._held_row(viewer, held_id)
        parse = await self._parse(row.text, row.received_at)
        if parse.kind == "ack":
            raise InvalidField("text", "This SMS acknowledges an alert; discard it instead.")
        payload: dict[str, Any] = {**parse.incident, **dict(corrections or {})}
        missing = [
            name
            for name in ("type", "location")
            if name in parse.missing
            and not (
                payload.get(name)
                or (
                    name == "location"
                    and (payload.get("geometry") or payload.get("lat") is not None)
                )
            )
        ]
        if missing:
            raise InvalidField(
                missing[0],
                f"The SMS does not say the {missing[0]}; send it in the body, e.g. "
                '{"type": "kidnapping"} or {"lat": 14.54, "lon": -9.19}.',
            )
        payload["external_id"] = f"sms-held:{held_id}"
        incident_id, _, _ = await self._store_new(
            payload, org_id=row.org_id, user_id=viewer.user_id, now=now, actor=viewer
        )
        held = await self._review(viewer, held_id, "published", now, incident_id)
        return held, incident_id

    async def discard_held(
        self, viewer: Principal, held_id: uuid.UUID, *, now: datetime
    ) -> HeldSms:
        await self._held_row(viewer, held_id)
        return await self._review(viewer, held_id, "discarded", now, None)

    def _officer(self, viewer: Principal) -> None:
        if not viewer.is_officer:
            raise Forbidden("Only security officers review SMS from unregistered numbers.")

    async def _held_row(self, viewer: Principal, held_id: uuid.UUID) -> HeldSmsRow:
        self._officer(viewer)
        async with self.db.read() as session:
            row = await session.get(HeldSmsRow, held_id)
            if row is None or row.org_id != viewer.org_id:
                raise NotFound(f"No held SMS {held_id} for your organisation.")
            if row.state != "held":
                raise Conflict(f"This SMS was already {row.state}.")
            session.expunge(row)
            return row

    async def _review(
        self,
        viewer: Principal,
        held_id: uuid.UUID,
        state: str,
        now: datetime,
        incident_id: uuid.UUID | None,
    ) -> HeldSms:
        async with self.db.transaction() as session:
            result = await session.execute(
                update(HeldSmsRow)
                .where(HeldSmsRow.id == held_id, HeldSmsRow.state == "held")
                .values(
                    state=state,
                    reviewed_by=viewer.user_id,
                    reviewed_at=now,
                    incident_id=incident_id,
                )
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                raise Conflict("Another officer reviewed this SMS meanwhile; reload the list.")
            row = await session.get(HeldSmsRow, held_id)
            assert row is not None
            return _held(row)
