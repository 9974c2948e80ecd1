"""Building the app and its OpenAPI schema raises no Litestar deprecation warning, and no
deprecation warning from our own code (issue 11, item 6): they are fixed, not filtered.

It runs in a fresh interpreter, so that warnings raised once at import time (a deprecated import
path, say) are seen too, and pytest's own filters do not apply.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUR_PACKAGES = ("api", "incidents", "alerts", "geo", "missions")

SCRIPT = """
import json, sys, tempfile, warnings

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    from api.http.app import create_app
    from api.settings import Settings

    var = tempfile.mkdtemp()
    app = create_app(Settings(database_url=f"sqlite+aiosqlite:///{var}/x.db", var_dir=var))
    app.openapi_schema.to_schema()

from litestar.exceptions import LitestarDeprecationWarning

json.dump(
    [
        {
            "litestar": issubclass(w.category, LitestarDeprecationWarning),
            "deprecation": issubclass(w.category, DeprecationWarning),
            "filename": w.filename,
            "lineno": w.lineno,
            "message": str(w.message),
        }
        for w in caught
    ],
    sys.stdout,
)
"""


def _ours(filename: str) -> bool:
    # '<string>': an annotation Litestar evaluated from one of our handlers' signatures.
    if filename.startswith("<"):
        return True
    path = Path(filename).resolve()
    return any(path.is_relative_to(ROOT / package) for package in OUR_PACKAGES)


def test_building_the_app_raises_no_deprecation_warning() -> None:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=240,
    )
    caught = json.loads(out.stdout)
    offending = [
        f"{w['filename']}:{w['lineno']}: {w['message']}"
        for w in caught
        if w["litestar"] or (w["deprecation"] and _ours(w["filename"]))
    ]
    assert offending == [], "\n".join(offending)


def test_the_check_sees_a_deprecated_declaration() -> None:
    """The script above does catch what it guards: a handler in the old style warns."""
    script = """
import warnings
from litestar import Litestar, get
from litestar.exceptions import LitestarDeprecationWarning

@get("/x/{item_id:int}")
async def handler(item_id: int) -> int:
    return item_id

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    Litestar([handler])
print(sum(issubclass(w.category, LitestarDeprecationWarning) for w in caught))
"""
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert int(out.stdout.strip()) >= 1
