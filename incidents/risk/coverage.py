"""Coverage: whether a zone or an area has enough recent data for a level to mean anything (pure).

A zone where nothing was reported is not a safe zone: it is a zone nobody reports from. Its
score is 0, which the model would call level 1 (low); Sentinelle says "pas de données / no data"
instead (docs/coverage.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Final

import numpy as np
import numpy.typing as npt

from incidents.errors import InvalidField

__all__ = [
    "HAS_DATA",
    "NO_DATA",
    "CoverageRule",
    "ZoneCoverage",
    "area_has_data",
    "zones_with_data",
]

HAS_DATA: Final = "data"
# Also the level code of a zone or route without a level: its words are the vocabulary's
# (incidents.vocabulary, level "no_data": "pas de données", "no data").
NO_DATA: Final = "no_data"


@dataclass(frozen=True)
class CoverageRule:
    """A zone has data when at least `min_incidents` incidents (not retracted) occurred in the
    last `days` days in the zone, or, with `neighbours`, in the zone and the zones next to it.

    `days` 0 means the risk window (730 days by default); a longer value is cut to the window,
    which is all the risk model reads. An assessed area or route has data when that many
    incidents count in it, or when a zone it crosses (other than the country) has data.
    """

    days: float = 0.0
    min_incidents: int = 1
    neighbours: bool = True

    def __post_init__(self) -> None:
        if self.days < 0 or self.days != self.days:
            raise InvalidField("coverage_days", "coverage_days is 0 (the risk window) or more")
        if self.min_incidents < 1:
            raise InvalidField("coverage_min_incidents", "coverage_min_incidents is at least 1")

    def period_days(self, window_days: float) -> float:
        return min(self.days, window_days) if self.days > 0 else window_days


def zones_with_data(
    t_days: npt.ArrayLike,
    pair_incident: npt.ArrayLike,
    pair_zone: npt.ArrayLike,
    *,
    zone_count: int,
    now_days: float,
    window_days: float,
    rule: CoverageRule,
    neighbours: tuple[npt.ArrayLike, npt.ArrayLike] | None = None,
) -> npt.NDArray[np.bool_]:
    """Per zone position: whether it has data at `now_days` (see CoverageRule).

    `pair_incident`/`pair_zone` are the (incident row, zone position) links the risk model
    reads, each link once; `neighbours` the adjacency pairs, both directions.
    """
    t = np.asarray(t_days, dtype=np.float64)
    pi = np.asarray(pair_incident, dtype=np.intp)
    pz = np.asarray(pair_zone, dtype=np.intp)
    age = now_days - t[pi] if pi.size else np.empty(0)
    recent = (age >= 0) & (age < rule.period_days(window_days))
    own = np.bincount(pz[recent], minlength=zone_count).astype(np.int64)
    total = own.copy()
    if rule.neighbours and neighbours is not None:
        a = np.asarray(neighbours[0], dtype=np.intp)
        b = np.asarray(neighbours[1], dtype=np.intp)
        if a.size:
            np.add.at(total, a, own[b])
    out: npt.NDArray[np.bool_] = total >= rule.min_incidents
    return out


def area_has_data(incident_count: int, crossed_with_data: int, rule: CoverageRule) -> bool:
    """An assessed area or route: enough incidents counted in it, or a crossed zone with data."""
    return incident_count >= rule.min_incidents or crossed_with_data > 0


@dataclass(frozen=True)
class ZoneCoverage:
    """A zone's coverage: whether it has data and, when not, the UTC day of the last incident
    in it that the viewer sees in full (None: none, or none the viewer may see)."""

    has_data: bool
    last_incident_on: date | None = None
