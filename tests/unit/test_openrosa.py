"""The OpenRosa pieces: the served XForm (pyxform, ODK Validate), Digest arithmetic, instance XML."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from incidents.errors import InvalidField
from incidents.intake import openrosa
from incidents.intake.kobo import kobo_to_incident

ROOT = Path(__file__).resolve().parents[2]
FORM = ROOT / "docs" / "forms" / "sentinelle_incident.xlsx"
SUBMISSION = ROOT / "tests" / "fixtures" / "odk_submission.xml"


def built_xform() -> str:
    sys.path.insert(0, str(FORM.parent))
    try:
        import build_form  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(FORM.parent))
    return str(build_form.xform(FORM))


def test_the_served_xform_is_what_pyxform_makes_of_the_shipped_xlsform() -> None:
    served = openrosa.shipped_form()

    assert served.xml.decode("utf-8") == built_xform(), "run docs/forms/build_form.py"
    assert served.form_id == "sentinelle_incident"
    assert served.version == "2026120201"
    assert served.title.startswith("Sentinelle")


def odk_validate_jar() -> Path:
    import pyxform.validators.odk_validate as odk_validate

    return Path(odk_validate.__file__).parent / "bin" / "ODK_Validate.jar"


def odk_validate(jar: Path, form: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["java", "-Djava.awt.headless=true", "-jar", str(jar), str(form)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_odk_validate_accepts_the_served_xform(tmp_path: Path) -> None:
    """ODK Validate (JavaRosa, the engine ODK Collect runs) as pyxform ships it, offline."""
    jar = odk_validate_jar()
    if shutil.which("java") is None or not jar.is_file():
        pytest.skip("ODK Validate needs Java and pyxform's ODK_Validate.jar")
    form = tmp_path / "sentinelle_incident.xml"
    form.write_bytes(openrosa.shipped_form().xml)

    run = odk_validate(jar, form)

    assert run.returncode == 0, run.stdout + run.stderr
    assert "Xform is valid" in run.stdout + run.stderr


def test_odk_validate_refuses_a_broken_xform(tmp_path: Path) -> None:
    """The check above can fail: a constraint that is not XPath is refused."""
    jar = odk_validate_jar()
    if shutil.which("java") is None or not jar.is_file():
        pytest.skip("ODK Validate needs Java and pyxform's ODK_Validate.jar")
    served = openrosa.shipped_form().xml
    broken = served.replace(b'constraint=". &lt;= now()"', b'constraint=". &lt;= now("')
    assert broken != served
    form = tmp_path / "broken.xml"
    form.write_bytes(broken)

    run = odk_validate(jar, form)

    assert run.returncode != 0


def test_digest_response_matches_rfc_2617_example() -> None:
    """RFC 2617 §3.5 (the MD5, qop=auth computation RFC 7616 keeps and okhttp-digest makes)."""
    answer = openrosa.DigestAnswer(
        username="Mufasa",
        realm="testrealm@host.com",
        nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
        uri="/dir/index.html",
        response="6629fae49393a05397450978507c4ef1",
        qop="auth",
        nc="00000001",
        cnonce="0a4f113b",
        algorithm="MD5",
    )
    ha1 = openrosa.ha1("Mufasa", "Circle Of Life", "testrealm@host.com")

    assert openrosa.digest_response(ha1, "GET", answer) == answer.response


def test_parse_authorization_reads_okhttp_digest_headers() -> None:
    header = (
        'Digest username="odk-abc", realm="Sentinelle", nonce="MTc2.eA", '
        'uri="/api/v1/openrosa/formList?deviceID=collect%3AXy", '
        'response="0123456789ABCDEF0123456789abcdef", qop=auth, nc=00000002, '
        'cnonce="8f1c2b7e4d3a4f6b", algorithm=MD5, opaque="0"'
    )

    answer = openrosa.parse_authorization(header)

    assert isinstance(answer, openrosa.DigestAnswer)
    assert answer.uri == "/api/v1/openrosa/formList?deviceID=collect%3AXy"
    assert answer.response == "0123456789abcdef0123456789abcdef"
    assert (answer.nc, answer.qop, answer.cnonce) == ("00000002", "auth", "8f1c2b7e4d3a4f6b")


@pytest.mark.parametrize(
    "header",
    [
        "",
        "Bearer stl_x",
        "Digest",
        'Digest username="a", realm="Sentinelle"',  # no nonce, uri, response
        "Basic not base64!",
        "Basic " + "YWJj",  # "abc": no colon
        'Digest username="a" realm',  # not a list of parameters
    ],
)
def test_parse_authorization_refuses_what_is_not_a_credential(header: str) -> None:
    assert openrosa.parse_authorization(header) is None


def test_nonces_are_fresh_for_fifteen_minutes_then_stale() -> None:
    now = datetime(2026, 3, 14, 8, 0, tzinfo=UTC)
    nonce = openrosa.new_nonce(now, b"salt-salt-12")

    assert openrosa.nonce_fresh(nonce, now + timedelta(minutes=14))
    assert not openrosa.nonce_fresh(nonce, now + timedelta(minutes=16))
    assert not openrosa.nonce_fresh(nonce, now - timedelta(minutes=1))
    assert not openrosa.nonce_fresh("not-a-nonce", now)


def test_the_digest_uri_must_name_this_request() -> None:
    path = "/api/v1/openrosa/submission"

    assert openrosa.uri_matches(f"{path}?deviceID=x", path, "deviceID=x")
    assert openrosa.uri_matches(f"/sentinelle{path}?deviceID=x", path, "deviceID=x")
    assert not openrosa.uri_matches("/api/v1/openrosa/formList?deviceID=x", path, "deviceID=x")
    assert not openrosa.uri_matches(f"{path}?deviceID=y", path, "deviceID=x")


def test_collect_instance_reads_as_the_kobo_fields() -> None:
    submission = openrosa.parse_submission(
        SUBMISSION.read_bytes(), expected_form_id="sentinelle_incident"
    )

    assert submission.instance_id == "7b1e3c55-0a9d-4f2e-b6c1-93d8e2f4a610"
    assert submission.deprecated_id is None
    assert submission.fields["group_impact/abducted"] == "2"
    result = kobo_to_incident(submission.fields)
    assert result.incident is not None, result.error
    assert result.incident["type"] == "kidnapping"
    assert result.incident["impact"]["abducted"] == 2
    assert result.incident["location_precision"] == "exact"


def test_an_edited_instance_names_the_one_it_replaces() -> None:
    xml = SUBMISSION.read_bytes().replace(
        b"</instanceID>", b"</instanceID><deprecatedID>uuid:AAAA-1</deprecatedID>"
    )

    submission = openrosa.parse_submission(xml, expected_form_id="sentinelle_incident")

    assert submission.deprecated_id == "aaaa-1"


def test_an_instance_with_too_many_elements_is_refused() -> None:
    many = "".join(f"<q{i}>1</q{i}>" for i in range(600))
    xml = f'<data id="sentinelle_incident">{many}</data>'.encode()

    with pytest.raises(InvalidField, match="500 elements"):
        openrosa.parse_submission(xml, expected_form_id="sentinelle_incident")


def test_the_response_xml_escapes_the_message() -> None:
    body = openrosa.response_xml("a < b & c")

    assert b'<message nature="">a &lt; b &amp; c</message>' in body


def test_collect_settings_are_what_a_collect_qr_code_holds_in_collects_own_schema() -> None:
    """tests/fixtures/collect_client_settings.schema.json is getodk/collect's
    settings/src/main/resources/client-settings.schema.json (Apache-2.0, commit 137f325):
    every key and value used is one that schema defines."""
    import base64
    import json
    import zlib

    schema = json.loads((ROOT / "tests/fixtures/collect_client_settings.schema.json").read_text())
    text = openrosa.collect_settings(
        "https://sentinelle.example.org/api/v1/openrosa", "odk-7kq3m9x2", "h4ke-2pwn-x8ra-c6fd"
    )

    # Collect's CompressionUtils.decompress: base64 (no wrap), then zlib's Inflater.
    settings = json.loads(zlib.decompress(base64.b64decode(text, validate=True)))
    assert set(schema["required"]) <= set(settings) <= set(schema["properties"])
    general = schema["properties"]["general"]["properties"]
    assert set(settings["general"]) <= set(general)
    assert settings["general"]["autosend"] in general["autosend"]["enum"]
    assert isinstance(settings["general"]["delete_send"], bool)
    assert set(settings["project"]) <= set(schema["properties"]["project"]["properties"])
    assert settings["general"]["server_url"] == "https://sentinelle.example.org/api/v1/openrosa"
    assert (settings["general"]["username"], settings["general"]["password"]) == (
        "odk-7kq3m9x2",
        "h4ke-2pwn-x8ra-c6fd",
    )
