"""The operator sets how many SMS segments a reply may take (SENTINELLE_SMS_REPLY_SEGMENTS)."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.bootstrap import build
from api.settings import Settings


def settings_at(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env(
        {
            "SENTINELLE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/s.db",
            "SENTINELLE_VAR_DIR": str(tmp_path),
            **env,
        }
    )


def test_replies_take_one_segment_unless_the_operator_allows_more(tmp_path: Path) -> None:
    assert build(settings_at(tmp_path)).intake.reply_segments == 1
    three = build(settings_at(tmp_path, SENTINELLE_SMS_REPLY_SEGMENTS="3"))
    assert three.intake.reply_segments == 3


@pytest.mark.parametrize("bad", ["0", "7", "-1"])
def test_a_segment_count_out_of_range_is_refused_with_what_to_do(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError, match=r"SENTINELLE_SMS_REPLY_SEGMENTS.*1 to 6 segments"):
        build(settings_at(tmp_path, SENTINELLE_SMS_REPLY_SEGMENTS=bad))
