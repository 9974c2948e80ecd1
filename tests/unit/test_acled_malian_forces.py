"""ACLED actors: Mali's own forces, under the names partners type (FAMa, Forces armées
maliennes, FDS...), are state forces, not foreign forces; foreign ones stay foreign."""

from __future__ import annotations

import pytest

from incidents.interop.acled import perpetrator_from


@pytest.mark.parametrize(
    "actor",
    [
        "FAMa",
        "Forces Armées Maliennes (FAMa)",
        "Malian Armed Forces",
        "Military Forces of Mali (2020-2021)",
        "Police Forces of Mali (2013-2020) Gendarmerie",
        "FDS",
        "Forces de défense et de sécurité",
        "Garde nationale",
    ],
)
def test_malian_state_forces_are_state_forces(actor: str) -> None:
    assert perpetrator_from("1", actor) == "state_forces"
    assert perpetrator_from("State Forces", actor) == "state_forces"


@pytest.mark.parametrize(
    "actor",
    [
        "Military Forces of France (2017-2022)",
        "Military Forces of Burkina Faso (2015-2022)",
        "Famara",
    ],
)
def test_other_states_forces_stay_foreign(actor: str) -> None:
    assert perpetrator_from("1", actor) == "foreign_forces"
