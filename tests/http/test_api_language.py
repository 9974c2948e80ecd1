"""Problems in the reader's language: French with `Accept-Language: fr` (and on the pages),
English with `en` and for programs that send none; decimal commas read where forms send them."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from incidents import vocabulary
from tests.factories import DIEMA, Caller, Factory, incident_payload
from tests.http.test_incidents_bad_input import BAD_BODIES, count_incidents

URL = "/api/v1/incidents"
FRENCH = {"Accept-Language": "fr-ML,fr;q=0.9,en;q=0.5"}
ENGLISH = {"Accept-Language": "en"}
# Words that only an English sentence has: a French detail holding one was left untranslated.
ENGLISH_WORDS = re.compile(r"\b(?:the|give|must|is not|expected|unknown|only|send|choose)\b")


@pytest.fixture(name="reporter")
async def fx_reporter(factory: Factory) -> Caller:
    return await factory.caller("reporter")


def without_code(text: str) -> str:
    """The prose of a message, without `code`, quoted values and field paths."""
    text = re.sub(r"`[^`]*`|'[^']*'|\"[^\"]*\"", "", text)
    return re.sub(r"^[\w.\[\]]+ : ", "", text)


@pytest.mark.parametrize(
    ("body", "field"),
    [(case[1], case[2]) for case in BAD_BODIES],
    ids=[case[0] for case in BAD_BODIES],
)
async def test_a_bad_report_is_refused_in_french_naming_the_same_field(
    client: AsyncTestClient, reporter: Caller, body: dict[str, Any], field: str
) -> None:
    english = await client.post(URL, json=body, headers={**reporter.headers, **ENGLISH})
    french = await client.post(URL, json=body, headers={**reporter.headers, **FRENCH})
    assert english.status_code == french.status_code == 422, french.text
    en, fr = english.json(), french.json()
    assert fr["field"] == en["field"] == field  # the field name stays as it is
    assert fr["title"] == "Champ invalide"
    assert en["title"] == "Invalid field"
    assert fr["detail"] == vocabulary.translate_message(en["detail"], "fr")
    assert fr["detail"] != en["detail"]
    assert not ENGLISH_WORDS.search(without_code(fr["detail"]).lower()), fr["detail"]
    assert fr["invalid_params"] == [{"name": field, "reason": fr["detail"]}]
    assert french.headers["content-language"] == "fr"
    assert english.headers["content-language"] == "en"


async def test_without_accept_language_the_api_answers_in_english(
    client: AsyncTestClient, reporter: Caller
) -> None:
    # Programs (scripts, gateways, integrations) send no Accept-Language and match the
    # documented English messages; every browser and phone sends one.
    answer = await client.post(
        URL, json=incident_payload(type="kidnaping"), headers=reporter.headers
    )
    assert answer.status_code == 422
    assert answer.json()["title"] == "Invalid field"
    assert "did you mean 'kidnapping'" in answer.json()["detail"]


async def test_lang_query_wins_over_accept_language(
    client: AsyncTestClient, reporter: Caller
) -> None:
    answer = await client.post(
        f"{URL}?lang=fr",
        json=incident_payload(type="kidnaping"),
        headers={**reporter.headers, **ENGLISH},
    )
    assert answer.json()["detail"].startswith("type : type d'incident inconnu 'kidnaping'")


async def test_authentication_and_not_found_problems_in_french(
    client: AsyncTestClient, reporter: Caller
) -> None:
    missing = await client.get(URL, headers=FRENCH)
    assert missing.status_code == 401
    assert missing.json()["title"] == "Authentification requise"
    assert missing.json()["detail"].startswith("Envoyez `Authorization: Bearer <jeton>`")
    wrong = await client.get(URL, headers={"Authorization": "Bearer stl_nope", **FRENCH})
    assert wrong.status_code == 401
    assert wrong.json()["detail"] == (
        "Ce jeton est inconnu ou révoqué : demandez-en un nouveau à un administrateur."
    )
    nobody = uuid.uuid4()
    gone = await client.get(f"{URL}/{nobody}", headers={**reporter.headers, **FRENCH})
    assert gone.status_code == 404
    assert gone.json()["title"] == "Introuvable"
    assert str(nobody) in gone.json()["detail"]
    assert gone.json()["detail"].startswith("Aucun incident")


async def test_a_french_refusal_tells_another_organisation_no_more_than_a_missing_id(
    client: AsyncTestClient, factory: Factory
) -> None:
    owner = await factory.caller("reporter")
    created = await client.post(
        URL, json=incident_payload(sharing_level="red"), headers=owner.headers
    )
    assert created.status_code == 201, created.text
    secret = created.json()["id"]
    for role in ("reporter", "officer", "planner", "admin"):
        outsider = await factory.caller(role)
        hidden = await client.get(f"{URL}/{secret}", headers={**outsider.headers, **FRENCH})
        nobody = uuid.uuid4()
        missing = await client.get(f"{URL}/{nobody}", headers={**outsider.headers, **FRENCH})
        if hidden.status_code == 200:  # an entitled role reads a masked entry, never the text
            assert "description" not in hidden.text
            continue
        assert hidden.status_code == missing.status_code == 404
        hidden_body = {**hidden.json(), "detail": hidden.json()["detail"].replace(secret, "ID")}
        missing_body = {
            **missing.json(),
            "detail": missing.json()["detail"].replace(str(nobody), "ID"),
        }
        hidden_body.pop("instance"), missing_body.pop("instance")
        assert hidden_body == missing_body


# --- decimal commas -----------------------------------------------------------------------


async def test_a_phone_form_decimal_comma_is_read_as_a_point(
    client: AsyncTestClient, reporter: Caller, db: Any
) -> None:
    body = incident_payload(at=(0, 0))
    body["lat"], body["lon"] = "14,62", "-9,18"
    answer = await client.post(URL, json=body, headers=reporter.headers)
    assert answer.status_code == 201, answer.text
    assert answer.json()["geometry"]["coordinates"] == [-9.18, 14.62]
    patched = await client.patch(
        f"{URL}/{answer.json()['id']}",
        json={"lat": "14,5406", "lon": -9.183},
        headers={**reporter.headers, "If-Match": answer.headers["etag"]},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["geometry"]["coordinates"] == [-9.183, 14.5406]
    # Text that is no number is refused naming the field, in the reader's language.
    before = await count_incidents(db)
    bad = {**body, "lat": "14,6,2"}
    refused = await client.post(URL, json=bad, headers={**reporter.headers, **FRENCH})
    assert refused.status_code == 422
    assert refused.json()["field"] == "lat"
    assert refused.json()["detail"] == "un nombre décimal est attendu, reçu '14,6,2'"
    assert await count_incidents(db) == before


async def test_numbers_as_text_with_a_point_still_work(
    client: AsyncTestClient, reporter: Caller
) -> None:
    body = incident_payload()
    body["lat"], body["lon"] = f"{DIEMA[0]}", f"{DIEMA[1]}"
    answer = await client.post(URL, json=body, headers=reporter.headers)
    assert answer.status_code == 201, answer.text
    assert answer.json()["geometry"]["coordinates"] == [DIEMA[1], DIEMA[0]]


async def test_problems_sent_before_the_application_are_in_french_too(
    client: AsyncTestClient, reporter: Caller
) -> None:
    body = incident_payload(description="avant\u0000après")
    answer = await client.post(URL, json=body, headers={**reporter.headers, **FRENCH})
    assert answer.status_code == 422
    assert answer.json()["title"] == "Champ invalide"
    assert answer.json()["field"] == "description"
    assert answer.json()["detail"].startswith("description contient un caractère NUL")
    assert answer.headers["content-language"] == "fr"
    english = await client.post(URL, json=body, headers=reporter.headers)
    assert english.json()["detail"].startswith("description contains a NUL character")


async def test_litestar_own_refusals_are_in_french_too(
    client: AsyncTestClient, reporter: Caller
) -> None:
    nowhere = await client.get("/api/v1/nowhere", headers={**reporter.headers, **FRENCH})
    assert nowhere.status_code == 404
    assert nowhere.json()["title"] == "Introuvable"
    assert nowhere.json()["detail"].startswith("Introuvable : vérifiez l'adresse")
    wrong = await client.put(URL, json={}, headers={**reporter.headers, **FRENCH})
    assert wrong.status_code == 405
    assert wrong.json()["detail"].startswith("Méthode non autorisée")
