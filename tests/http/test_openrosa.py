"""ODK Collect against /api/v1/openrosa, through HTTP, requests shaped as Collect sends them.

`Collect` below does what getodk/collect's OkHttpConnection and rburgst/okhttp-digest 3.1.1
(the library Collect uses) do: every request with `X-OpenRosa-Version: 1.0`, `Date` and
Collect's User-Agent; on 401 the first challenge with a scheme it knows (Digest, plus Basic on
https only), `qop=auth`, `nc` counted per nonce, a random `cnonce`, the request path with its
query (`?deviceID=…`) as `uri`; the nonce reused pre-emptively on the next requests; a second
401 for the same nonce ends it unless the challenge says `stale=true`. Submissions are
OkHttp's multipart/form-data: part `xml_submission_file` (text/xml) and one part per attachment
named by its file name, each part with its Content-Length.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import re
import secrets
import uuid
import xml.etree.ElementTree as ET
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from incidents.db import Database
from incidents.intake import openrosa
from incidents.records.tables import IncidentRow
from incidents.sharing.tables import AuditRow
from tests.factories import Caller, Factory
from tests.live import fx_live_url  # noqa: F401 - the live server fixture

BASE = "/api/v1/openrosa"
SUBMISSION = Path(__file__).resolve().parents[1] / "fixtures" / "odk_submission.xml"
FIRST_UUID = "7b1e3c55-0a9d-4f2e-b6c1-93d8e2f4a610"
DEVICE = "collect:Xy12Ab34Cd56Ef78"
USER_AGENT = "org.odk.collect.android/v2024.3.2 Dalvik/2.1.0 (Linux; U; Android 13; SM-A146P)"
LIST_NS = "{http://openrosa.org/xforms/xformsList}"
RESPONSE_NS = "{http://openrosa.org/http/response}"


def md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def challenge_params(value: str) -> dict[str, str]:
    scheme, _, rest = value.partition(" ")
    params = {"scheme": scheme}
    for part in rest.split(","):
        name, _, raw = part.strip().partition("=")
        params[name.strip().lower()] = raw.strip().strip('"')
    return params


@dataclass
class Collect:
    """ODK Collect's HTTP client, as far as a server can tell (see the module docstring)."""

    client: AsyncTestClient[Litestar]
    username: str
    password: str
    https: bool = False
    #: Collect sends no Accept-Language (Sentinelle then answers in French); tests reading the
    #: English messages set one.
    language: str | None = None
    challenge: dict[str, str] | None = None
    nc: int = 0
    cnonce: str = ""
    last_nonce: str = ""
    log: list[tuple[str, str, int]] = field(default_factory=list)

    def _digest(self, method: str, url: str) -> str:
        assert self.challenge is not None
        parts = urlsplit(url)
        uri = parts.path + (f"?{parts.query}" if parts.query else "")
        nonce = self.challenge["nonce"]
        if nonce == self.last_nonce:
            self.nc += 1
        else:
            self.nc, self.cnonce, self.last_nonce = 1, secrets.token_hex(8), nonce
        nc = f"{self.nc:08x}"
        ha1 = md5(f"{self.username}:{self.challenge['realm']}:{self.password}")
        ha2 = md5(f"{method}:{uri}")
        response = md5(f"{ha1}:{nonce}:{nc}:{self.cnonce}:auth:{ha2}")
        opaque = self.challenge.get("opaque")
        fields = [
            f'username="{self.username}"',
            f'realm="{self.challenge["realm"]}"',
            f'nonce="{nonce}"',
            f'uri="{uri}"',
            f'response="{response}"',
            "qop=auth",
            f"nc={nc}",
            f'cnonce="{self.cnonce}"',
            "algorithm=MD5",
        ]
        if opaque is not None:
            fields.append(f'opaque="{opaque}"')
        return "Digest " + ", ".join(fields)

    def _authorization(self, method: str, url: str) -> str | None:
        if self.challenge is None:
            return None
        if self.challenge["scheme"].lower() == "basic":
            return httpx.BasicAuth(self.username, self.password)._auth_header
        return self._digest(method, url)

    async def request(
        self, method: str, path: str, *, content: bytes | None = None, content_type: str = ""
    ) -> httpx.Response:
        url = f"{path}{'&' if '?' in path else '?'}deviceID={DEVICE}"
        tried_nonce: str | None = None
        for _ in range(5):
            headers = {
                "User-Agent": USER_AGENT,
                "X-OpenRosa-Version": "1.0",
                # OkHttpOpenRosaServerClientProvider: "E, dd MMM yyyy hh:mm:ss zz" (12-hour).
                "Date": datetime.now(UTC).strftime("%a, %d %b %Y %I:%M:%S GMT"),
                "Accept-Encoding": "gzip",
            }
            authorization = self._authorization(method, url)
            if authorization:
                headers["Authorization"] = authorization
            if content_type:
                headers["Content-Type"] = content_type
            if self.language:
                headers["Accept-Language"] = self.language
            answer = await self.client.request(method, url, headers=headers, content=content)
            self.log.append((method, path, answer.status_code))
            if answer.status_code != 401:
                return answer
            known = [
                challenge_params(v)
                for v in answer.headers.get_list("www-authenticate")
                if v.lower().startswith("digest") or (self.https and v.lower().startswith("basic"))
            ]
            if not known:
                return answer
            fresh = known[0]
            was_digest = bool(authorization and authorization.startswith("Digest"))
            if was_digest and fresh.get("stale") != "true":
                return answer  # the same nonce failed: Collect asks for the password again
            if authorization and authorization.startswith("Basic"):
                return answer
            if tried_nonce == fresh.get("nonce"):
                return answer
            tried_nonce = fresh.get("nonce")
            self.challenge = fresh
        return answer

    async def form_list(self) -> httpx.Response:
        return await self.request("GET", f"{BASE}/formList")

    async def get(self, url: str) -> httpx.Response:
        return await self.request("GET", url)

    async def head_submission(self) -> httpx.Response:
        return await self.request("HEAD", f"{BASE}/submission")

    async def submit(
        self, xml: bytes, attachments: dict[str, bytes] | None = None
    ) -> httpx.Response:
        body, content_type = okhttp_multipart(xml, attachments or {})
        return await self.request(
            "POST", f"{BASE}/submission", content=body, content_type=content_type
        )

    async def send_instance_unchecked(self) -> httpx.Response:
        """HEAD, then (on 204 only) the fixture instance, as Collect does; the last answer."""
        head = await self.head_submission()
        if head.status_code != 204:
            return head
        return await self.submit(instance())

    async def send_instance(self, xml: bytes, **kw: Any) -> httpx.Response:
        """What Collect's InstanceServerUploader does: HEAD (204 expected), then POST."""
        head = await self.head_submission()
        assert head.status_code == 204, (head.status_code, head.text)
        assert head.headers["X-OpenRosa-Version"] == "1.0"
        assert int(head.headers["X-OpenRosa-Accept-Content-Length"]) > 0
        return await self.submit(xml, **kw)


def okhttp_multipart(xml: bytes, attachments: dict[str, bytes]) -> tuple[bytes, str]:
    """OkHttp's MultipartBody (type FORM): a UUID boundary, Content-Disposition with name and
    filename, Content-Type and Content-Length on each part."""
    boundary = str(uuid.uuid4())
    parts = [("xml_submission_file", "Sentinelle_2024-03-14_08-09-40.xml", "text/xml", xml)]
    parts += [(name, name, "image/jpeg", data) for name, data in attachments.items()]
    chunks = []
    for name, filename, kind, data in parts:
        chunks.append(
            (
                f"--{boundary}\r\n"
                f'Content-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                f"Content-Type: {kind}\r\nContent-Length: {len(data)}\r\n\r\n"
            ).encode()
            + data
            + b"\r\n"
        )
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


def instance(
    *, instance_id: str = FIRST_UUID, deprecated: str | None = None, **answers: str
) -> bytes:
    """The fixture instance with some answers changed, as Collect would write it."""
    text = SUBMISSION.read_text(encoding="utf-8")
    root = ET.fromstring(text)
    for path, value in answers.items():
        found = root.find(path.replace("__", "/"))
        assert found is not None, path
        found.text = value
    meta = root.find("meta")
    assert meta is not None
    meta_id = meta.find("instanceID")
    assert meta_id is not None
    meta_id.text = f"uuid:{instance_id}"
    if deprecated is not None:
        ET.SubElement(meta, "deprecatedID").text = f"uuid:{deprecated}"
    return b"<?xml version='1.0' ?>" + ET.tostring(root, encoding="unicode").encode()


def message(answer: httpx.Response) -> str:
    root = ET.fromstring(answer.content)
    assert root.tag == f"{RESPONSE_NS}OpenRosaResponse", answer.text
    found = root.find(f"{RESPONSE_NS}message")
    assert found is not None
    return found.text or ""


async def incidents_of(db: Database) -> list[IncidentRow]:
    async with db.read() as session:
        return list((await session.scalars(select(IncidentRow))).all())


async def form_login(client: AsyncTestClient[Litestar], caller: Caller) -> dict[str, str]:
    answer = await client.post("/api/v1/intake/form-login", headers=caller.headers)
    assert answer.status_code == 201, answer.text
    body: dict[str, str] = answer.json()
    return body


@pytest.fixture(name="reporter")
async def fx_reporter(factory: Factory) -> Caller:
    return await factory.caller("reporter")


@pytest.fixture(name="collect")
async def fx_collect(client: AsyncTestClient[Litestar], reporter: Caller) -> Collect:
    login = await form_login(client, reporter)
    return Collect(client, login["username"], login["password"])


# ---------------------------------------------------------------------------- the round trip


async def test_collect_round_trip_form_list_form_submission_duplicate_edit(
    client: AsyncTestClient[Litestar], db: Database, reporter: Caller
) -> None:
    login = await form_login(client, reporter)
    assert login["server_url"] == "http://testserver.local/api/v1/openrosa"
    qr = json.loads(zlib.decompress(base64.b64decode(login["collect_settings"])))
    assert qr["general"]["server_url"] == login["server_url"]
    assert (qr["general"]["username"], qr["general"]["password"]) == (
        login["username"],
        login["password"],
    )
    collect = Collect(client, login["username"], login["password"])

    # Get blank form: the list, then the form it names.
    listed = await collect.form_list()
    assert listed.status_code == 200
    assert listed.headers["X-OpenRosa-Version"] == "1.0"
    assert listed.headers["content-type"] == "text/xml; charset=utf-8"
    root = ET.fromstring(listed.content)
    assert root.tag == f"{LIST_NS}xforms"
    (entry,) = root.findall(f"{LIST_NS}xform")
    assert entry.findtext(f"{LIST_NS}formID") == "sentinelle_incident"
    assert entry.findtext(f"{LIST_NS}name", "").startswith("Sentinelle")
    download = entry.findtext(f"{LIST_NS}downloadUrl", "")
    form = await collect.get(urlsplit(download).path)
    assert form.status_code == 200
    assert entry.findtext(f"{LIST_NS}hash") == f"md5:{hashlib.md5(form.content).hexdigest()}"
    assert b'<data id="sentinelle_incident"' in form.content
    # Digest was asked once, then the nonce was reused pre-emptively.
    assert [status for *_, status in collect.log] == [401, 200, 200]

    # Send finalized form: HEAD 204, POST 201 with the OpenRosa message Collect shows.
    sent = await collect.send_instance(instance())
    assert sent.status_code == 201, sent.text
    assert sent.headers["X-OpenRosa-Version"] == "1.0"
    assert "Report received" in message(sent)
    (stored,) = await incidents_of(db)
    assert stored.type == "kidnapping"
    assert stored.user_id == reporter.user_id
    assert stored.org_id == reporter.org_id
    assert stored.external_id == f"kobo:{FIRST_UUID}"
    feature = (await client.get(f"/api/v1/incidents/{stored.id}", headers=reporter.headers)).json()
    assert feature["properties"]["impact"]["abducted"] == 2
    assert feature["geometry"]["coordinates"] == pytest.approx([-9.192143, 14.540012])

    # Re-sent (Collect retries after a lost answer): 202, nothing new, nothing changed.
    again = await collect.send_instance(instance())
    assert again.status_code == 202
    assert "Already received" in message(again)
    (same,) = await incidents_of(db)
    assert same.version == stored.version

    # An edit (Enketo/Central-style: new instanceID, deprecatedID naming the first): version+1.
    edited_uuid = str(uuid.uuid4())
    edit = instance(instance_id=edited_uuid, deprecated=FIRST_UUID, group_impact__abducted="3")
    changed = await collect.send_instance(edit)
    assert changed.status_code == 201, changed.text
    assert "Report updated" in message(changed)
    (after,) = await incidents_of(db)
    assert after.id == stored.id
    assert after.version == stored.version + 1
    feature = (await client.get(f"/api/v1/incidents/{stored.id}", headers=reporter.headers)).json()
    assert feature["properties"]["impact"]["abducted"] == 3
    async with db.read() as session:
        audited = await session.scalar(
            select(func.count())
            .select_from(AuditRow)
            .where(AuditRow.target_id == str(stored.id), AuditRow.action == "incident.changed")
        )
        actor = await session.scalar(
            select(AuditRow.actor_user_id).where(
                AuditRow.target_id == str(stored.id), AuditRow.action == "incident.changed"
            )
        )
    assert audited == 1
    assert actor == reporter.user_id

    # The edit re-sent, and the first instance re-sent after the edit: duplicates, no revert.
    assert (await collect.send_instance(edit)).status_code == 202
    assert (await collect.send_instance(instance())).status_code == 202
    (final,) = await incidents_of(db)
    assert final.version == after.version


# ---------------------------------------------------------------------------- authentication


async def test_digest_challenge_is_first_and_basic_is_offered_for_https(
    client: AsyncTestClient[Litestar],
) -> None:
    answer = await client.get(
        f"{BASE}/formList", headers={"X-OpenRosa-Version": "1.0", "Accept-Language": "en"}
    )

    assert answer.status_code == 401
    assert answer.headers["X-OpenRosa-Version"] == "1.0"
    values = answer.headers.get_list("www-authenticate")
    assert [v.split()[0] for v in values] == ["Digest", "Basic"]
    digest = challenge_params(values[0])
    assert digest["realm"] == "Sentinelle"
    assert digest["qop"] == "auth"
    assert digest["algorithm"] == "MD5"
    assert digest["nonce"]
    assert "stale" not in digest
    assert "ODK user name" in message(answer)


async def test_wrong_password_unknown_user_and_revoked_token_answer_alike(
    client: AsyncTestClient[Litestar], db: Database, reporter: Caller, collect: Collect
) -> None:
    from incidents.identity.accounts import revoke_token

    wrong = Collect(client, collect.username, collect.password + "x")
    unknown = Collect(client, "odk-nobody123", collect.password)
    answers = [await wrong.send_instance_unchecked(), await unknown.send_instance_unchecked()]
    async with db.transaction() as session:
        assert await revoke_token(session, reporter.token, now=datetime.now(UTC))
    revoked = Collect(client, collect.username, collect.password)
    answers.append(await revoked.send_instance_unchecked())

    assert [a.status_code for a in answers] == [401, 401, 401]
    assert len({a.content for a in answers}) == 1
    shapes = {
        tuple(sorted(set(challenge_params(v)) - {"nonce"}))
        for a in answers
        for v in a.headers.get_list("www-authenticate")
    }
    assert len(shapes) == 2  # one Digest shape, one Basic shape, whoever asked
    assert await incidents_of(db) == []
    # Collect gave up after the second 401 for the same nonce (it asks the user), no loop.
    assert [s for *_, s in wrong.log] == [401, 401]


async def test_an_expired_nonce_is_stale_and_collect_signs_in_again_without_asking(
    client: AsyncTestClient[Litestar], collect: Collect
) -> None:
    old = datetime.now(UTC) - timedelta(seconds=openrosa.NONCE_SECONDS + 60)
    collect.challenge = {
        "scheme": "Digest",
        "realm": "Sentinelle",
        "qop": "auth",
        "nonce": openrosa.new_nonce(old, b"0123456789ab"),
    }

    answer = await collect.form_list()

    assert answer.status_code == 200
    assert [s for *_, s in collect.log] == [401, 200]


async def test_a_digest_answer_for_another_address_is_refused(
    client: AsyncTestClient[Litestar], collect: Collect
) -> None:
    await collect.form_list()
    authorization = collect._digest("GET", f"{BASE}/formList?deviceID={DEVICE}")

    replayed = await client.head(
        f"{BASE}/submission?deviceID={DEVICE}", headers={"Authorization": authorization}
    )

    assert replayed.status_code == 401


async def test_basic_over_https_with_the_odk_password(
    app: Litestar, reporter: Caller, db: Database
) -> None:
    async with AsyncTestClient(app=app, base_url="https://sentinelle.example.org") as client:
        login = await form_login(client, reporter)
        assert login["server_url"] == "https://sentinelle.example.org/api/v1/openrosa"
        basic = Collect(client, login["username"], login["password"], https=True)
        basic.challenge = {"scheme": "Basic"}  # okhttp-digest's BasicAuthenticator, pre-emptive
        sent = await basic.send_instance(instance())
        wrong = Collect(client, login["username"], "not-it", https=True)
        wrong.challenge = {"scheme": "Basic"}
        refused = await wrong.head_submission()

    assert sent.status_code == 201, sent.text
    assert refused.status_code == 401
    assert len(await incidents_of(db)) == 1


@pytest.mark.parametrize("role", ["planner", "operator"])
async def test_who_reports_nothing_gets_no_odk_login(
    client: AsyncTestClient[Litestar], factory: Factory, role: str
) -> None:
    caller = await (factory.operator() if role == "operator" else factory.caller(role))

    answer = await client.post("/api/v1/intake/form-login", headers=caller.headers)

    assert answer.status_code == 403


async def test_a_new_password_replaces_the_old_one_and_ending_the_login_stops_collect(
    client: AsyncTestClient[Litestar], reporter: Caller, collect: Collect
) -> None:
    again = await form_login(client, reporter)
    old = await collect.form_list()
    fresh = Collect(client, again["username"], again["password"])
    assert again["username"] == collect.username
    assert (await fresh.form_list()).status_code == 200
    assert old.status_code == 401

    ended = await client.delete("/api/v1/intake/form-login", headers=reporter.headers)

    assert ended.status_code == 204
    assert (
        await Collect(client, again["username"], again["password"]).form_list()
    ).status_code == 401


async def test_wrong_passwords_meet_the_rate_limit(
    settings: Any, db: Database, factory: Factory
) -> None:
    from api.http.app import create_app

    limited = create_app(dataclasses.replace(settings, rate_limit_per_minute=1), db=db)
    async with AsyncTestClient(app=limited) as client:
        statuses = [
            (
                await client.get(f"{BASE}/formList", headers={"Authorization": f"Basic {i}"})
            ).status_code
            for i in range(40)
        ]

    assert 429 in statuses
    assert statuses[0] == 401


# ---------------------------------------------------------------------------- organisations


async def test_another_organisations_user_cannot_edit_nor_learn_of_an_instance(
    client: AsyncTestClient[Litestar], db: Database, factory: Factory, collect: Collect
) -> None:
    assert (await collect.send_instance(instance())).status_code == 201
    outsider = await factory.caller("officer")
    login = await form_login(client, outsider)
    other = Collect(client, login["username"], login["password"])

    edit = await other.send_instance(
        instance(instance_id=str(uuid.uuid4()), deprecated=FIRST_UUID, group_impact__killed="9")
    )
    never_sent = await other.send_instance(
        instance(
            instance_id=str(uuid.uuid4()), deprecated=str(uuid.uuid4()), group_impact__killed="9"
        )
    )
    same_instance = await other.send_instance(instance())

    # Editing another organisation's instance reads exactly as editing one never sent.
    assert edit.status_code == never_sent.status_code == 422
    assert without_ids(message(edit)) == without_ids(message(never_sent))
    # The same instance id in another organisation is that organisation's own new report.
    assert same_instance.status_code == 201
    rows = await incidents_of(db)
    theirs = [r for r in rows if r.org_id == outsider.org_id]
    mine = [r for r in rows if r.org_id != outsider.org_id]
    assert len(theirs) == 1
    assert [(r.killed, r.version) for r in mine] == [(0, 1)]


def without_ids(text: str) -> str:
    return re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "X", text)


# ---------------------------------------------------------------------------- bad submissions


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b"<data id='sentinelle_incident'><meta>", "not well-formed"),
        (
            b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa">]><data id="sentinelle_incident">&a;</data>',
            "DOCTYPE",
        ),
        (
            b'<data id="another_form"><meta><instanceID>uuid:1</instanceID></meta></data>',
            "not 'sentinelle_incident'",
        ),
        (b'<data id="sentinelle_incident"><group_incident/></data>', "meta/instanceID"),
        ("<data id='sentinelle_incident'/>".encode("utf-16"), "not UTF-8"),
    ],
)
async def test_bad_xml_is_a_4xx_with_an_openrosa_message_and_stores_nothing(
    db: Database, collect: Collect, body: bytes, said: str
) -> None:
    collect.language = "en"
    answer = await collect.send_instance(body)

    assert 400 <= answer.status_code < 500
    assert answer.headers["X-OpenRosa-Version"] == "1.0"
    assert said in message(answer)
    assert await incidents_of(db) == []


async def test_a_submission_without_place_names_the_field(db: Database, collect: Collect) -> None:
    collect.language = "en"
    xml = instance(group_location__location="", group_location__place_name="Xqzwvillage")

    answer = await collect.send_instance(xml)

    assert answer.status_code == 422
    assert message(answer).startswith("location:")
    assert await incidents_of(db) == []


async def test_not_multipart_or_without_the_xml_part_is_refused(
    db: Database, collect: Collect
) -> None:
    collect.language = "en"
    raw = await collect.request(
        "POST", f"{BASE}/submission", content=instance(), content_type="text/xml"
    )
    body, kind = okhttp_multipart(instance(), {})
    renamed = body.replace(b'name="xml_submission_file"', b'name="submission"')
    missing = await collect.request(
        "POST", f"{BASE}/submission", content=renamed, content_type=kind
    )

    assert raw.status_code == missing.status_code == 422
    assert "xml_submission_file" in message(raw)
    assert "xml_submission_file" in message(missing)
    assert await incidents_of(db) == []


async def test_attachments_are_accepted_not_kept_and_a_split_upload_is_one_report(
    db: Database, collect: Collect
) -> None:
    first = await collect.send_instance(
        instance(), attachments={"photo1.jpg": b"\xff\xd8" + b"1" * 500}
    )
    body, kind = okhttp_multipart(instance(), {"photo2.jpg": b"\xff\xd8" + b"2" * 500})
    rest = await collect.request("POST", f"{BASE}/submission", content=body, content_type=kind)

    assert first.status_code == 201
    assert "Attachments are not kept" in message(first)
    assert rest.status_code == 202
    assert len(await incidents_of(db)) == 1


async def test_unknown_form_is_404_with_an_openrosa_message(collect: Collect) -> None:
    collect.language = "en"
    answer = await collect.get(f"{BASE}/forms/another")

    assert answer.status_code == 404
    assert "form list" in message(answer)


async def test_collect_without_a_language_reads_the_french_catalogue(collect: Collect) -> None:
    from incidents import vocabulary

    french = await collect.get(f"{BASE}/forms/another")
    collect.language = "en"
    english = await collect.get(f"{BASE}/forms/another")

    assert message(french) == vocabulary.translate_message(message(english), "fr")


async def test_the_operator_reports_nothing_even_with_a_login_made_behind_our_back(
    client: AsyncTestClient[Litestar], app: Litestar, db: Database, factory: Factory
) -> None:
    from incidents.identity.accounts import hash_token
    from incidents.intake.tables import FormLoginRow
    from incidents.records.tables import ApiTokenRow

    operator = await factory.operator()
    password = "abcd-efgh-jkmn-pqrs"
    async with db.transaction() as session:
        token_id = await session.scalar(
            select(ApiTokenRow.id).where(ApiTokenRow.token_hash == hash_token(operator.token))
        )
        assert token_id is not None
        session.add(
            FormLoginRow(
                token_id=token_id,
                username="odk-operator1",
                ha1_sealed=app.state.container.cipher.seal(openrosa.ha1("odk-operator1", password)),
                created_at=datetime.now(UTC),
            )
        )
    collect = Collect(client, "odk-operator1", password, language="en")

    answer = await collect.send_instance(instance())

    assert answer.status_code == 403
    assert "cannot report incidents" in message(answer)
    assert await incidents_of(db) == []


async def test_an_unknown_user_costs_the_same_work_as_a_wrong_password(
    client: AsyncTestClient[Litestar],
    app: Litestar,
    collect: Collect,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No timing is measured: the two refusals open one sealed digest and make one
    constant-time comparison each (hmac.compare_digest), so neither says which it was."""
    import incidents.intake.service as service

    cipher = app.state.container.cipher
    opened: list[str] = []
    compared: list[tuple[str, str]] = []
    real_open, real_compare = cipher.open, service.constant_time_equal

    def counting_open(stored: str) -> str:
        opened.append(stored)
        return str(real_open(stored))

    def counting_compare(left: str, right: str) -> bool:
        compared.append((left, right))
        return bool(real_compare(left, right))

    monkeypatch.setattr(cipher, "open", counting_open)
    monkeypatch.setattr(service, "constant_time_equal", counting_compare)
    work = []
    for username, password in [(collect.username, "wrong"), ("odk-nobody999", "wrong")]:
        opened.clear()
        compared.clear()
        answer = await Collect(client, username, password).form_list()
        assert answer.status_code == 401
        work.append((len(opened), len(compared)))

    assert work == [(1, 1), (1, 1)]


# ---------------------------------------------------------------------------- other clients


async def test_independent_digest_clients_over_a_real_socket(
    live_url: str, client: AsyncTestClient[Litestar], reporter: Caller, db: Database
) -> None:
    """httpx's DigestAuth and curl's --digest, two Digest implementations that are not ours,
    against uvicorn on loopback: form list, HEAD, submission, duplicate."""
    import asyncio
    import shutil
    import subprocess

    login = await form_login(client, reporter)
    auth = httpx.DigestAuth(login["username"], login["password"])
    async with httpx.AsyncClient(base_url=live_url, auth=auth, timeout=60) as http:
        listed = await http.get(f"{BASE}/formList", headers={"X-OpenRosa-Version": "1.0"})
        head = await http.head(f"{BASE}/submission?deviceID=x")
        body, kind = okhttp_multipart(instance(), {})
        sent = await http.post(f"{BASE}/submission", content=body, headers={"Content-Type": kind})
    assert (listed.status_code, head.status_code, sent.status_code) == (200, 204, 201)

    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed: httpx's Digest was checked, curl's was not")

    def run_curl() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                curl,
                "-s",
                "--digest",
                "-u",
                f"{login['username']}:{login['password']}",
                "-H",
                "X-OpenRosa-Version: 1.0",
                "-F",
                f"xml_submission_file=@{SUBMISSION};type=text/xml",
                "-w",
                "\n%{http_code}",
                f"{live_url}{BASE}/submission?deviceID=collect%3Aabc",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    again = await asyncio.to_thread(run_curl)
    assert again.stdout.rsplit("\n", 1)[-1] == "202", again.stdout + again.stderr
    assert "Already received" in again.stdout
    assert len(await incidents_of(db)) == 1
