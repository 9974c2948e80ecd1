"""The pure alert modules load without Apprise, SQLAlchemy or Litestar."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize(
    "module",
    [
        "alerts",
        "alerts.core.subscription",
        "alerts.core.matching",
        "alerts.core.render",
        "alerts.core.policy",
    ],
)
def test_pure_modules_do_not_load_outside_world_libraries(module):
    code = (
        f"import sys, {module}; "
        "print(','.join(m for m in ('apprise', 'sqlalchemy', 'litestar', 'advanced_alchemy') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    ).stdout.strip()
    assert out == ""


def test_channels_are_loaded_lazily_from_the_package():
    import alerts

    assert alerts.FakeNotifier.__module__ == "alerts.delivery.channels"
    with pytest.raises(AttributeError):
        _ = alerts.NoSuchThing
