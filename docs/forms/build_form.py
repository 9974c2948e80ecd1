"""Build the KoboToolbox / ODK form `sentinelle_incident.xlsx` (XLSForm) from the taxonomy.

Run from the repository root after changing incident types:

    .venv/bin/python docs/forms/build_form.py

It writes the workbook and the XForm that pyxform makes of it,
`incidents/data/sentinelle_incident.xml`, which Sentinelle serves to ODK Collect
(`/api/v1/openrosa/formList`); a test checks that the two agree. The field names are the
contract with `incidents.intake.kobo.kobo_to_incident`; rename one only together with it.
openpyxl (installed with pyxform) writes the workbook.
"""

from __future__ import annotations

import sys
from pathlib import Path

from openpyxl import Workbook

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from incidents.intake.kobo import SHARING_UNCHOSEN
from incidents.taxonomy.catalogue import CATEGORIES, TYPES

FORM_PATH = Path(__file__).with_name("sentinelle_incident.xlsx")
XFORM_PATH = Path(__file__).resolve().parents[2] / "incidents" / "data" / "sentinelle_incident.xml"
FR = "Français (fr)"
EN = "English (en)"
FORM_VERSION = "2026120201"

SURVEY_COLUMNS = [
    "type",
    "name",
    f"label::{FR}",
    f"label::{EN}",
    f"hint::{FR}",
    f"hint::{EN}",
    "required",
    "relevant",
    "constraint",
    f"constraint_message::{FR}",
    f"constraint_message::{EN}",
    "choice_filter",
    "appearance",
    "default",
]

Row = dict[str, str]


def _row(type_: str, name: str, fr: str, en: str, **extra: str) -> Row:
    return {"type": type_, "name": name, f"label::{FR}": fr, f"label::{EN}": en, **extra}


def _hint(fr: str, en: str) -> Row:
    return {f"hint::{FR}": fr, f"hint::{EN}": en}


def _count(name: str, fr: str, en: str) -> Row:
    return _row(
        "integer",
        name,
        fr,
        en,
        default="0",
        constraint=". >= 0 and . < 10000",
        **{
            f"constraint_message::{FR}": "Nombre de personnes, 0 ou plus",
            f"constraint_message::{EN}": "Number of people, 0 or more",
        },
    )


def survey_rows() -> list[Row]:
    return [
        _row("start", "start", "", ""),
        _row("end", "end", "", ""),
        _row("begin_group", "group_incident", "Incident", "Incident"),
        _row("select_one category", "incident_category", "Catégorie", "Category", required="yes"),
        _row(
            "select_one incident_type",
            "incident_type",
            "Type d'incident",
            "Incident type",
            required="yes",
            choice_filter="category=${incident_category}",
        ),
        _row(
            "dateTime",
            "occurred_at",
            "Date et heure de l'incident",
            "Date and time of the incident",
            required="yes",
            constraint=". <= now()",
            **{
                f"constraint_message::{FR}": "La date ne peut pas être dans le futur",
                f"constraint_message::{EN}": "The date cannot be in the future",
            },
            **_hint("Heure du Mali (GMT)", "Mali time (GMT)"),
        ),
        _row("select_one severity", "severity", "Gravité", "Severity", required="yes"),
        _row("end_group", "", "", ""),
        _row("begin_group", "group_location", "Lieu", "Location"),
        _row(
            "geopoint",
            "location",
            "Position GPS",
            "GPS position",
            **_hint("Si possible, sur le lieu de l'incident", "If possible, at the incident site"),
        ),
        _row(
            "text",
            "place_name",
            "Nom du lieu (localité)",
            "Place name (town or village)",
            required="${location} = ''",
            **_hint("Obligatoire sans position GPS", "Required when there is no GPS position"),
        ),
        _row("end_group", "", "", ""),
        _row("begin_group", "group_impact", "Victimes", "Casualties"),
        _count("killed", "Personnes tuées", "People killed"),
        _count("injured", "Personnes blessées", "People injured"),
        _count("abducted", "Personnes enlevées", "People abducted"),
        _row(
            "select_one yes_no",
            "aid_workers",
            "Du personnel humanitaire est-il touché ?",
            "Are aid workers affected?",
            required="yes",
            default="no",
        ),
        _row("end_group", "", "", ""),
        _row(
            "select_one perpetrator",
            "perpetrator",
            "Auteur présumé",
            "Suspected perpetrator",
            default="unknown",
        ),
        _row(
            "text",
            "description",
            "Description",
            "Description",
            appearance="multiline",
            **_hint("Faits, sans noms de victimes", "Facts, without victims' names"),
        ),
        _row(
            "select_one sharing_level",
            "sharing_level",
            "Niveau de partage (TLP)",
            "Sharing level (TLP)",
            # Left at "default", Sentinelle picks the level: amber, or red for an abduction of
            # aid workers (the kidnapping protocol); a level chosen here is kept.
            default=SHARING_UNCHOSEN,
        ),
    ]


PERPETRATORS = [
    ("non_state_armed_group", "Groupe armé non étatique", "Non-state armed group"),
    ("state_forces", "Forces de l'État", "State forces"),
    ("foreign_forces", "Forces étrangères", "Foreign forces"),
    ("criminal", "Criminels", "Criminals"),
    ("community_militia", "Milice communautaire", "Community militia"),
    ("unknown", "Inconnu", "Unknown"),
]
SEVERITIES = [
    ("1", "1 - Mineure", "1 - Minor"),
    ("2", "2 - Modérée", "2 - Moderate"),
    ("3", "3 - Grave", "3 - Serious"),
    ("4", "4 - Très grave", "4 - Severe"),
    ("5", "5 - Critique", "5 - Critical"),
]
SHARING = [
    (
        SHARING_UNCHOSEN,
        "Par défaut : ambre, ou rouge pour un enlèvement de notre personnel",
        "Default: amber, or red for an abduction of our staff",
    ),
    ("red", "TLP:RED - nommément", "TLP:RED - named recipients"),
    (
        "amber_strict",
        "TLP:AMBER+STRICT - notre organisation",
        "TLP:AMBER+STRICT - our organisation",
    ),
    ("amber", "TLP:AMBER - organisations partenaires", "TLP:AMBER - partner organisations"),
    ("green", "TLP:GREEN - communauté humanitaire", "TLP:GREEN - humanitarian community"),
    ("clear", "TLP:CLEAR - public", "TLP:CLEAR - public"),
]


def choice_rows() -> list[Row]:
    rows: list[Row] = []

    def add(list_name: str, name: str, fr: str, en: str, category: str = "") -> None:
        rows.append(
            {
                "list_name": list_name,
                "name": name,
                f"label::{FR}": fr,
                f"label::{EN}": en,
                "category": category,
            }
        )

    for cat in CATEGORIES.values():
        add("category", cat.code, cat.label_fr, cat.label_en)
    for itype in TYPES.values():
        add("incident_type", itype.code, itype.label_fr, itype.label_en, itype.category)
    for name, fr, en in SEVERITIES:
        add("severity", name, fr, en)
    add("yes_no", "yes", "Oui", "Yes")
    add("yes_no", "no", "Non", "No")
    for name, fr, en in PERPETRATORS:
        add("perpetrator", name, fr, en)
    for name, fr, en in SHARING:
        add("sharing_level", name, fr, en)
    return rows


def build(path: Path = FORM_PATH) -> Path:
    workbook = Workbook()
    survey = workbook.active
    assert survey is not None
    survey.title = "survey"
    survey.append(SURVEY_COLUMNS)
    for row in survey_rows():
        survey.append([row.get(c, "") for c in SURVEY_COLUMNS])
    choices = workbook.create_sheet("choices")
    choice_columns = ["list_name", "name", f"label::{FR}", f"label::{EN}", "category"]
    choices.append(choice_columns)
    for row in choice_rows():
        choices.append([row.get(c, "") for c in choice_columns])
    settings = workbook.create_sheet("settings")
    settings.append(["form_title", "form_id", "version", "default_language", "instance_name"])
    settings.append(
        [
            "Sentinelle - signalement d'incident / incident report",
            "sentinelle_incident",
            FORM_VERSION,
            FR,
            "concat(${incident_type}, ' ', ${place_name})",
        ]
    )
    workbook.save(path)
    return path


def xform(path: Path = FORM_PATH) -> str:
    """The XForm pyxform makes of the workbook (what ODK Collect downloads)."""
    from pyxform.xls2xform import convert

    return str(convert(xlsform=str(path)).xform)


def build_xform(path: Path = FORM_PATH, out: Path = XFORM_PATH) -> Path:
    out.write_text(xform(path), encoding="utf-8")
    return out


if __name__ == "__main__":
    print(build())
    print(build_xform())
