"""The five UN security categories plus access constraints, mapped from the taxonomy's types."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

# In the order security services list them.
UN_CATEGORIES: Final = (
    "armed_conflict",
    "terrorism",
    "crime",
    "civil_unrest",
    "hazards",
    "access",
)

LABELS: Final[Mapping[str, tuple[str, str]]] = MappingProxyType(
    {
        "armed_conflict": ("Conflit armé", "Armed conflict"),
        "terrorism": ("Terrorisme", "Terrorism"),
        "crime": ("Criminalité", "Crime"),
        "civil_unrest": ("Troubles civils", "Civil unrest"),
        "hazards": ("Aléas", "Hazards"),
        "access": ("Contraintes d'accès", "Access constraints"),
    }
)

# The subject of a sentence of the summary ("Les actes de terrorisme ont doublé ...").
SUBJECTS: Final[Mapping[str, tuple[str, str]]] = MappingProxyType(
    {
        "armed_conflict": ("Les incidents de conflit armé", "Armed-conflict incidents"),
        "terrorism": ("Les actes de terrorisme", "Acts of terrorism"),
        "crime": ("Les crimes et délits", "Crimes"),
        "civil_unrest": ("Les troubles civils", "Civil-unrest incidents"),
        "hazards": ("Les incidents dus aux aléas", "Hazard incidents"),
        "access": ("Les contraintes d'accès", "Access constraints"),
    }
)

# Every type of incidents/data/taxonomy.toml (tests/reports/test_categories.py checks it).
# Terrorism: the weapons and acts of the armed groups that target civilians and aid workers
# (IEDs, mines, abductions, red-line threats); armed conflict: fighting between armed parties.
BY_TYPE: Final[Mapping[str, str]] = MappingProxyType(
    {
        "armed_attack": "armed_conflict",
        "ambush": "armed_conflict",
        "crossfire": "armed_conflict",
        "assault": "crime",
        "killing": "armed_conflict",
        "sexual_violence": "crime",
        "intercommunal_clash": "armed_conflict",
        "ied": "terrorism",
        "landmine_uxo": "terrorism",
        "shelling": "armed_conflict",
        "airstrike": "armed_conflict",
        "kidnapping": "terrorism",
        "detention": "armed_conflict",
        "disappearance": "crime",
        "theft": "crime",
        "robbery": "crime",
        "carjacking": "crime",
        "burglary": "crime",
        "looting": "crime",
        "extortion": "crime",
        "threat": "crime",
        "harassment": "crime",
        "redline_threat": "terrorism",
        "reputational_attack": "civil_unrest",
        "access_denial": "access",
        "movement_restriction": "access",
        "illegal_checkpoint": "access",
        "military_exclusion_zone": "access",
        "interference": "access",
        "permit_refusal": "access",
        "blockade": "access",
        "demonstration": "civil_unrest",
        "riot": "civil_unrest",
        "flood": "hazards",
        "fire": "hazards",
        "road_accident": "hazards",
        "epidemic": "hazards",
        "population_movement": "hazards",
        "other": "crime",
    }
)

# A masked entry keeps its category only: the category's most common UN category.
BY_CATEGORY: Final[Mapping[str, str]] = MappingProxyType(
    {
        "violence": "armed_conflict",
        "explosive": "terrorism",
        "abduction": "terrorism",
        "crime": "crime",
        "threat": "crime",
        "access": "access",
        "unrest": "civil_unrest",
        "hazard": "hazards",
        "displacement": "hazards",
        "other": "crime",
    }
)


def un_category(type_code: str | None, category: str) -> str:
    """The UN category of an incident: from its type when known, else from its category."""
    if type_code is not None and type_code in BY_TYPE:
        return BY_TYPE[type_code]
    return BY_CATEGORY.get(category, "crime")


def label(code: str, lang: str) -> str:
    fr, en = LABELS[code]
    return en if lang == "en" else fr


def subject(code: str, lang: str) -> str:
    fr, en = SUBJECTS[code]
    return en if lang == "en" else fr


__all__ = ["BY_CATEGORY", "BY_TYPE", "LABELS", "UN_CATEGORIES", "label", "subject", "un_category"]
