"""Public alerts as OASIS CAP 1.2 messages, and the Atom feed that lists them.

One message per version of what is published, never rewritten: its `identifier` names the
version and its `sent` is the version's own time (not the time it is fetched), so fetching it
twice gives the same bytes. A new version is an Update, a retraction a Cancel, each with
`<references>` to the message it supersedes.

The alert mapping read here (all keys optional except `id`, `type` and `sent`):
`id`, `identifier` (this message's; default `id`), `sent` (the version's time), `type`
(taxonomy code), `severity` (1-5), `status` (reported|verified|disputed|retracted),
`geometry` (any GeoJSON geometry type, WGS84 lon/lat), `radius_km` (for a point; else from
`location_precision`), `place_name`, `occurred_at` and `expires_at` (aware datetimes or ISO),
`headline_fr`/`headline_en`, `description_fr`/`description_en`, `instruction_fr`/
`instruction_en`, `url`, `previous` (the superseded message of the same sender, as
(identifier, sent)) and `references` (earlier messages as (sender, identifier, sent) triples).

Mappings (CAP has no "security incident" scale of its own):

* severity 5 -> Extreme, 4 -> Severe, 3 -> Moderate, 1-2 -> Minor;
* urgency: retracted -> Past, severity >= 4 -> Immediate, else Expected;
* certainty: verified -> Observed, reported -> Likely, disputed -> Possible, retracted -> Unlikely;
* responseType: retracted -> None (the report was withdrawn, nothing to do), severity >= 4 ->
  Avoid, else Monitor;
* msgType: Cancel when retracted (it must reference the message it cancels), Update when it
  references an earlier message, else Alert.

Areas: a point is a circle (radius from `radius_km` or the location precision); a polygon is
a CAP polygon (its exterior: CAP has no holes); a line (a road) is the corridor polygon either
side of it, its width stated in `areaDesc`; multi-part geometries give one shape per part.

Times use CAP's form "2024-03-14T10:30:00-00:00" (UTC, no "Z", as CAP 1.2 requires).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import shapely
import shapely.geometry

from geo.measure import corridor_km
from incidents.errors import DomainError
from incidents.taxonomy.catalogue import get_type

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
ATOM_NS = "http://www.w3.org/2005/Atom"
CAP_MEDIA_TYPE = "application/cap+xml"

_CAP_SEVERITY = {5: "Extreme", 4: "Severe", 3: "Moderate", 2: "Minor", 1: "Minor"}
_CERTAINTY = {
    "verified": "Observed",
    "reported": "Likely",
    "disputed": "Possible",
    "retracted": "Unlikely",
}
_RADIUS_KM = {"exact": 2.0, "near": 5.0, "locality": 10.0, "admin2": 50.0, "admin1": 150.0}
# Corridor either side of a road: as far as the place is uncertain, at most 10 km.
_CORRIDOR_KM = {"exact": 2.0, "near": 5.0}
_MAX_CORRIDOR_KM = 10.0
# CAP polygons are simplified to about 100 m: enough for a road corridor, light for receivers.
_SIMPLIFY_DEGREES = 0.001
_CORRIDOR_DESC = {
    "fr": "{where} : couloir de {km:g} km de part et d'autre de l'itinéraire",
    "en": "{where}: corridor {km:g} km either side of the route",
}
_LANGUAGES = (("fr", "fr-FR"), ("en", "en-US"))
_HEADLINE = {
    "fr": "{label} signalé(e) à {place}",
    "en": "{label} reported at {place}",
}
_DESCRIPTION = {
    "fr": "Incident de sécurité: {label} à {place}, le {day}. Gravité {severity}/5.",
    "en": "Security incident: {label} at {place} on {day}. Severity {severity}/5.",
}
_INSTRUCTION = {
    "fr": "Évitez la zone et suivez les consignes de votre point focal sécurité.",
    "en": "Avoid the area and follow your security focal point's instructions.",
}


def cap_time(moment: datetime | str) -> str:
    """CAP 1.2 date-time: seconds, explicit offset, UTC written -00:00."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") + "-00:00"


def _sub(parent: ET.Element, tag: str, text: str | None = None, ns: str = CAP_NS) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ns}}}{tag}" if ns else tag)
    if text is not None:
        element.text = text
    return element


def alert_to_cap(alert: Mapping[str, Any], *, sender: str) -> bytes:
    """A CAP 1.2 `<alert>` (UTF-8 bytes) with one French and one English `<info>` block.

    The same mapping always gives the same bytes. Raises ValueError for a retraction that
    references no earlier message (there is nothing to cancel) or an alert without `sent`.
    """
    itype = get_type(str(alert["type"]))
    severity = int(alert.get("severity") or itype.default_severity)
    status = str(alert.get("status") or "reported")
    references = list(alert.get("references") or ())
    if alert.get("previous"):
        identifier, sent = alert["previous"]
        references.append((sender, identifier, sent))
    if not alert.get("sent"):
        raise ValueError("sent: a CAP message carries the time of the version it publishes")
    sent_at = alert["sent"]

    root = ET.Element(f"{{{CAP_NS}}}alert")
    _sub(root, "identifier", str(alert.get("identifier") or alert["id"]))
    _sub(root, "sender", sender)
    _sub(root, "sent", cap_time(sent_at))
    _sub(root, "status", "Actual")
    _sub(root, "msgType", _msg_type(status, references))
    _sub(root, "scope", "Public")
    if references:
        _sub(
            root,
            "references",
            " ".join(
                f"{ref_sender},{identifier},{cap_time(sent)}"
                for ref_sender, identifier, sent in references
            ),
        )

    place = str(alert.get("place_name") or "")
    occurred = alert.get("occurred_at")
    for short, language in _LANGUAGES:
        label = itype.label_fr if short == "fr" else itype.label_en
        where = place or ("zone indiquée" if short == "fr" else "the area shown")
        day = cap_time(occurred or sent_at)[:10]
        info = _sub(root, "info")
        _sub(info, "language", language)
        _sub(info, "category", "Security")
        _sub(info, "event", label)
        _sub(info, "responseType", _response_type(severity, status))
        _sub(
            info,
            "urgency",
            "Past" if status == "retracted" else "Immediate" if severity >= 4 else "Expected",
        )
        _sub(info, "severity", _CAP_SEVERITY.get(severity, "Unknown"))
        _sub(info, "certainty", _CERTAINTY.get(status, "Unknown"))
        if occurred:
            _sub(info, "onset", cap_time(occurred))
        if alert.get("expires_at"):
            _sub(info, "expires", cap_time(alert["expires_at"]))
        _sub(info, "senderName", "Sentinelle")
        values = {"label": label, "place": where, "day": day, "severity": severity}
        headline = alert.get(f"headline_{short}") or _HEADLINE[short].format(**values)
        _sub(info, "headline", str(headline)[:160])
        _sub(
            info,
            "description",
            str(alert.get(f"description_{short}") or _DESCRIPTION[short].format(**values)),
        )
        instruction = alert.get(f"instruction_{short}") or (
            _INSTRUCTION[short] if severity >= 4 and status != "retracted" else None
        )
        if instruction:
            _sub(info, "instruction", str(instruction))
        if alert.get("url"):
            _sub(info, "web", str(alert["url"]))
        _area(info, alert, where, short)

    document: bytes = ET.tostring(
        root, encoding="utf-8", xml_declaration=True, default_namespace=CAP_NS
    )
    return document


def _msg_type(status: str, references: Sequence[Any]) -> str:
    if status == "retracted":
        if not references:
            raise ValueError("references: a retraction cancels an earlier message; name it")
        return "Cancel"
    return "Update" if references else "Alert"


def _response_type(severity: int, status: str) -> str:
    if status == "retracted":
        return "None"
    return "Avoid" if severity >= 4 else "Monitor"


def _area(info: ET.Element, alert: Mapping[str, Any], where: str, language: str) -> None:
    area = _sub(info, "area")
    description = _sub(area, "areaDesc", where)
    geometry = alert.get("geometry")
    if not geometry:
        return
    kind = geometry.get("type")
    precision = str(alert.get("location_precision") or "locality")
    if kind in {"Point", "MultiPoint"}:
        points = [geometry["coordinates"]] if kind == "Point" else geometry["coordinates"]
        radius = float(alert.get("radius_km") or _RADIUS_KM.get(precision, 10.0))
        for lon, lat, *_ in points:
            _sub(area, "circle", f"{lat:.5f},{lon:.5f} {radius:g}")
    elif kind in {"Polygon", "MultiPolygon"}:
        polygons = [geometry["coordinates"]] if kind == "Polygon" else geometry["coordinates"]
        for rings in polygons:
            _sub(area, "polygon", _cap_ring(rings[0]))  # CAP polygons have no holes
    elif kind in {"LineString", "MultiLineString"}:
        km = float(alert.get("radius_km") or _CORRIDOR_KM.get(precision, _MAX_CORRIDOR_KM))
        km = min(km, _MAX_CORRIDOR_KM)
        description.text = _CORRIDOR_DESC[language].format(where=where, km=km)
        for ring in _corridor_rings(geometry, km):
            _sub(area, "polygon", _cap_ring(ring))
    else:
        raise ValueError(f"geometry: CAP cannot describe a {kind}")


def _corridor_rings(geometry: Mapping[str, Any], km: float) -> list[list[tuple[float, float]]]:
    """Exterior rings (lon, lat) of the corridor `km` either side of each line."""
    lines = shapely.get_parts(shapely.geometry.shape(dict(geometry)))
    corridor = shapely.union_all([corridor_km(line, km) for line in lines])
    corridor = shapely.simplify(corridor, _SIMPLIFY_DEGREES, preserve_topology=True)
    return [list(part.exterior.coords) for part in shapely.get_parts(corridor)]


def _cap_ring(ring: Sequence[Sequence[float]]) -> str:
    """CAP polygon: "lat,lon" pairs separated by spaces, first pair repeated last."""
    points = [(float(p[1]), float(p[0])) for p in ring]
    if points[0] != points[-1]:
        points.append(points[0])
    return " ".join(f"{lat:.5f},{lon:.5f}" for lat, lon in points)


def cap_atom_index(entries: Iterable[Mapping[str, Any]], *, feed_url: str, now: datetime) -> bytes:
    """An Atom feed linking to CAP messages, as CAP aggregators (e.g. Google) poll.

    Each entry needs `id`, `title` and `url` (where the CAP XML is served); `updated` (datetime)
    and `summary` are optional.
    """
    # Plain tags under an xmlns attribute: ElementTree cannot give a default namespace to
    # unqualified attributes such as href.
    feed = ET.Element("feed", {"xmlns": ATOM_NS})
    _sub(feed, "id", feed_url, "")
    _sub(feed, "title", "Sentinelle - alertes publiques / public alerts", "")
    _sub(feed, "updated", _atom_time(now), "")
    author = _sub(feed, "author", ns="")
    _sub(author, "name", "Sentinelle", "")
    link = _sub(feed, "link", ns="")
    link.set("rel", "self")
    link.set("href", feed_url)
    for entry in entries:
        item = _sub(feed, "entry", ns="")
        _sub(item, "id", _entry_id(entry), "")
        _sub(item, "title", str(entry["title"]), "")
        _sub(item, "updated", _atom_time(entry.get("updated") or now), "")
        if entry.get("summary"):
            _sub(item, "summary", str(entry["summary"]), "")
        entry_link = _sub(item, "link", ns="")
        entry_link.set("rel", "alternate")
        entry_link.set("type", CAP_MEDIA_TYPE)
        entry_link.set("href", str(entry["url"]))
    document: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return document


def _entry_id(entry: Mapping[str, Any]) -> str:
    identifier = str(entry["id"])
    return identifier if ":" in identifier else f"urn:uuid:{identifier}"


def _atom_time(moment: datetime | str) -> str:
    return cap_time(moment).removesuffix("-00:00") + "Z"


class Superseded(DomainError):
    """410: a CAP message of an earlier version of a public incident; the problem names the
    message that replaces it (`superseded_by`, `latest`)."""

    status = 410
    title = "Gone"


def superseded_version(name: str, current_identifier: str) -> int | None:
    """The version `name` (`<id>-v<n>`) asks for when it is an earlier version of the public
    message `current_identifier` (`<id>-v<m>`, n < m), else None."""
    asked_id, _, asked = name.partition("-v")
    current_id, _, current = current_identifier.partition("-v")
    if asked_id != current_id or not asked.isdigit() or not current.isdigit():
        return None
    n = int(asked)
    return n if 1 <= n < int(current) else None
