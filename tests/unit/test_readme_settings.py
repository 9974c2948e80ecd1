"""The README's configuration table names every setting a deployment may set (api/settings.py)."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from api.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_is_in_the_readme_configuration_table() -> None:
    table = README.read_text(encoding="utf-8").split("## Configuration", 1)[1].split("\n## ", 1)[0]
    missing = [
        f"SENTINELLE_{f.name.upper()}"
        for f in fields(Settings)
        if f.name != "extra" and f"`SENTINELLE_{f.name.upper()}`" not in table
    ]
    assert missing == [], f"add them to README.md's configuration table: {missing}"
