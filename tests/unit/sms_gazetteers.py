"""The gazetteers the SMS parser is measured with: the packaged one, and the packaged one with the
OCHA COD populated places of Mali imported the way a deployment does (`sentinelle places import`).

The COD file is real OCHA data that may not be redistributed: it is read from ../shared/data and
the tests needing it skip, saying so, when it is absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from geo.gazetteer import Gazetteer
from tests.conftest import SHARED_DATA

COD_PLACES = SHARED_DATA / "mli_populated_places_cod_2015.csv"
NO_COD = (
    f"{COD_PLACES} absent: the OCHA COD populated places of Mali (real data, not "
    "redistributable) are needed to read SMS as a deployment that imported them does"
)


def imported_gazetteer(directory: Path) -> Gazetteer:
    """The packaged gazetteer with the COD places imported into `directory` (or skip)."""
    if not COD_PLACES.is_file():
        pytest.skip(NO_COD)
    import api.cli.main  # noqa: F401  (the CLI module that registers `places import`)
    from api.cli.zones import import_places

    target = directory / "places.csv"
    import_places(COD_PLACES, target)
    return Gazetteer.load(target)


@pytest.fixture(scope="module", name="cod_gazetteer")
def fx_cod_gazetteer(tmp_path_factory: pytest.TempPathFactory) -> Gazetteer:
    return imported_gazetteer(tmp_path_factory.mktemp("places"))
