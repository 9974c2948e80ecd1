"""A clearly labelled synthetic demo dataset over Mali's insecure areas (never real data)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

DEMO_ORGANISATION = "DÉMO — données synthétiques / DEMO — synthetic data"
DEMO_PREFIX = "[DÉMO/DEMO — fictif, synthetic] "

# (place, lat, lon, relative activity, spread in degrees)
HOTSPOTS = (
    ("Ménaka", 15.918, 2.402, 8, 0.35),
    ("Kidal", 18.441, 1.407, 5, 0.4),
    ("Gao", 16.272, -0.044, 7, 0.35),
    ("Ansongo", 15.659, 0.502, 4, 0.3),
    ("Tombouctou", 16.773, -3.007, 4, 0.35),
    ("Mopti", 14.493, -4.186, 6, 0.3),
    ("Bandiagara", 14.350, -3.610, 7, 0.3),
    ("Douentza", 15.003, -2.950, 6, 0.3),
    ("Ségou", 13.431, -6.266, 2, 0.3),
    ("Diéma", 14.541, -9.183, 3, 0.25),
    ("Nioro du Sahel", 15.230, -9.590, 2, 0.25),
    ("Kayes", 14.447, -11.440, 1, 0.2),
    ("Nara", 15.168, -7.286, 2, 0.25),
    ("Tessalit", 20.199, 1.011, 2, 0.3),
    ("Bamako", 12.650, -8.000, 1, 0.1),
)
TYPES = (
    ("armed_attack", 10),
    ("ied", 8),
    ("kidnapping", 5),
    ("theft", 8),
    ("robbery", 5),
    ("illegal_checkpoint", 6),
    ("access_denial", 4),
    ("threat", 5),
    ("carjacking", 3),
    ("intercommunal_clash", 3),
    ("movement_restriction", 3),
    ("looting", 2),
    ("demonstration", 1),
)


@dataclass(frozen=True, slots=True)
class DemoRow:
    row_number: int
    incident: dict[str, Any]
    error: str | None = None
    field: str | None = None


def demo_rows(
    *, now: datetime, count: int = 400, days: int = 150, seed: int = 2026
) -> Iterator[DemoRow]:
    """Deterministic for a seed: re-running `sentinelle demo` adds nothing new (same external ids)."""
    rng = random.Random(seed)  # noqa: S311 - synthetic demo data, not a secret
    places = [h for h in HOTSPOTS for _ in range(h[3])]
    types = [t for t, w in TYPES for _ in range(w)]
    for n in range(count):
        place, lat, lon, _, spread = rng.choice(places)
        kind = rng.choice(types)
        # More recent incidents are likelier: the demo shows rising and falling trends.
        age = days * rng.random() ** 1.3
        occurred = now - timedelta(days=age, minutes=rng.randint(0, 600))
        yield DemoRow(
            row_number=n + 1,
            incident={
                "type": kind,
                "occurred_at": occurred.isoformat(),
                "time_precision": "exact",
                "lat": round(lat + rng.gauss(0, spread / 2), 4),
                "lon": round(lon + rng.gauss(0, spread / 2), 4),
                "location_precision": "near",
                "place_name": f"près de {place}",
                "severity": rng.choice((2, 3, 3, 4, 4, 5)),
                "description": DEMO_PREFIX + f"incident fictif près de {place}.",
                "source_type": rng.choice(("staff", "partner", "community")),
                "reliability": rng.choice("ABCC"),
                "credibility": rng.choice((2, 2, 3)),
                "status": rng.choice(("reported", "verified", "verified")),
                "sharing_level": "green",
                "external_id": f"demo:{seed}:{n}",
            },
        )
