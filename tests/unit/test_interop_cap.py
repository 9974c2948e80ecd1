"""CAP 1.2 public alerts: valid against the OASIS schema, bilingual, mapped, with Atom index."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from incidents.interop.cap import ATOM_NS, CAP_NS, alert_to_cap, cap_atom_index

XSD = Path(__file__).resolve().parents[2] / "incidents" / "interop" / "data" / "CAP-v1.2.xsd"
NS = {"cap": CAP_NS, "atom": ATOM_NS}
sent_at = datetime(2024, 3, 14, 10, 30, tzinfo=UTC)
point_in_diema = {"type": "Point", "coordinates": [-9.1921, 14.54]}
square_around_menaka = {
    "type": "Polygon",
    "coordinates": [[[2.3, 15.8], [2.5, 15.8], [2.5, 16.0], [2.3, 16.0], [2.3, 15.8]]],
}


@pytest.fixture(name="schema")
def fx_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(XSD)))


def make_alert(**overrides: Any) -> dict[str, Any]:
    alert: dict[str, Any] = {
        "id": str(uuid.UUID(int=7)),
        "type": "kidnapping",
        "severity": 5,
        "status": "verified",
        "geometry": point_in_diema,
        "location_precision": "locality",
        "place_name": "Diéma",
        "occurred_at": datetime(2024, 3, 14, 6, 30, tzinfo=UTC),
        "expires_at": "2024-03-21T06:30:00Z",
        "url": "https://sentinelle.example.org/alerts/7",
        "sent": sent_at,
    }
    alert.update(overrides)
    return alert


def parse(cap: bytes) -> ET.Element:
    return ET.fromstring(cap)


def test_cap_is_valid_against_the_oasis_schema(schema: etree.XMLSchema) -> None:
    cap = alert_to_cap(make_alert(), sender="sentinelle@example.org")

    document = etree.fromstring(cap)
    assert schema.validate(document), schema.error_log


def test_capvalidator_agrees() -> None:
    from capvalidator import Validator

    cap = alert_to_cap(make_alert(), sender="sentinelle@example.org")

    assert Validator(cap).schema()[0]


@pytest.mark.parametrize(
    "overrides",
    [
        {"geometry": square_around_menaka, "place_name": "Ménaka"},
        {"geometry": None, "place_name": None, "expires_at": None, "url": None},
        {"status": "retracted", "references": [("s@example.org", "abc", sent_at)]},
        {"version": 2, "severity": 2, "status": "reported"},
    ],
)
def test_variants_stay_valid(schema: etree.XMLSchema, overrides: dict[str, Any]) -> None:
    cap = alert_to_cap(make_alert(**overrides), sender="sentinelle@example.org")

    assert schema.validate(etree.fromstring(cap)), schema.error_log


def test_header_fields() -> None:
    root = parse(alert_to_cap(make_alert(), sender="sentinelle@example.org"))

    assert root.findtext("cap:identifier", namespaces=NS) == str(uuid.UUID(int=7))
    assert root.findtext("cap:sender", namespaces=NS) == "sentinelle@example.org"
    assert root.findtext("cap:sent", namespaces=NS) == "2024-03-14T10:30:00-00:00"
    assert root.findtext("cap:status", namespaces=NS) == "Actual"
    assert root.findtext("cap:msgType", namespaces=NS) == "Alert"
    assert root.findtext("cap:scope", namespaces=NS) == "Public"


def test_french_and_english_info_blocks() -> None:
    root = parse(alert_to_cap(make_alert(), sender="s@example.org"))
    infos = root.findall("cap:info", NS)

    assert [i.findtext("cap:language", namespaces=NS) for i in infos] == ["fr-FR", "en-US"]
    assert [i.findtext("cap:event", namespaces=NS) for i in infos] == ["Enlèvement", "Kidnapping"]
    for info in infos:
        assert info.findtext("cap:category", namespaces=NS) == "Security"
        assert info.findtext("cap:severity", namespaces=NS) == "Extreme"
        assert info.findtext("cap:urgency", namespaces=NS) == "Immediate"
        assert info.findtext("cap:certainty", namespaces=NS) == "Observed"
        assert "Diéma" in (info.findtext("cap:headline", namespaces=NS) or "")


def test_point_becomes_a_circle_in_lat_lon_order() -> None:
    root = parse(alert_to_cap(make_alert(radius_km=15), sender="s@example.org"))

    circle = root.findtext("cap:info/cap:area/cap:circle", namespaces=NS)
    assert circle == "14.54000,-9.19210 15"


def test_polygon_is_written_lat_lon_and_closed() -> None:
    open_ring = {"type": "Polygon", "coordinates": [[[2.3, 15.8], [2.5, 15.8], [2.5, 16.0]]]}
    root = parse(alert_to_cap(make_alert(geometry=open_ring), sender="s@example.org"))

    polygon = root.findtext("cap:info/cap:area/cap:polygon", namespaces=NS) or ""
    pairs = polygon.split()
    assert pairs[0] == "15.80000,2.30000"
    assert pairs[0] == pairs[-1]
    assert len(pairs) == 4


@pytest.mark.parametrize(
    ("overrides", "msg_type", "severity", "certainty", "urgency"),
    [
        ({"severity": 3, "status": "reported"}, "Alert", "Moderate", "Likely", "Expected"),
        ({"severity": 1, "status": "disputed"}, "Alert", "Minor", "Possible", "Expected"),
        ({"previous": ("x-v1", sent_at)}, "Update", "Extreme", "Observed", "Immediate"),
        (
            {"status": "retracted", "references": [("s@example.org", "x", sent_at)]},
            "Cancel",
            "Extreme",
            "Unlikely",
            "Past",
        ),
    ],
)
def test_mappings(
    overrides: dict[str, Any], msg_type: str, severity: str, certainty: str, urgency: str
) -> None:
    root = parse(alert_to_cap(make_alert(**overrides), sender="s@example.org"))

    assert root.findtext("cap:msgType", namespaces=NS) == msg_type
    assert root.findtext("cap:info/cap:severity", namespaces=NS) == severity
    assert root.findtext("cap:info/cap:certainty", namespaces=NS) == certainty
    assert root.findtext("cap:info/cap:urgency", namespaces=NS) == urgency


def test_unknown_type_is_refused_with_its_field() -> None:
    with pytest.raises(ValueError, match="type"):
        alert_to_cap(make_alert(type="alien"), sender="s@example.org")


def test_atom_index_links_every_alert() -> None:
    entries = [
        {
            "id": str(uuid.UUID(int=i)),
            "title": f"Alerte {i}",
            "url": f"https://sentinelle.example.org/cap/{i}.xml",
            "updated": sent_at,
        }
        for i in range(3)
    ]

    feed = ET.fromstring(
        cap_atom_index(entries, feed_url="https://sentinelle.example.org/cap.atom", now=sent_at)
    )

    assert feed.tag == f"{{{ATOM_NS}}}feed"
    assert feed.findtext("atom:updated", namespaces=NS) == "2024-03-14T10:30:00Z"
    links = [e.find("atom:link", NS) for e in feed.findall("atom:entry", NS)]
    assert [link.get("href") for link in links if link is not None] == [e["url"] for e in entries]
    assert {link.get("type") for link in links if link is not None} == {"application/cap+xml"}
    assert feed.findtext("atom:entry/atom:id", namespaces=NS) == f"urn:uuid:{uuid.UUID(int=0)}"
