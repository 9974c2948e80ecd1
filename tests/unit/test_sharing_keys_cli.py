"""Narrative encryption keys (rotation, key file) and the `trust` / `audit purge` commands."""

from __future__ import annotations

import os
import stat
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet

from api.cli.main import main
from incidents.errors import InvalidField
from incidents.sharing.service import Cipher, load_secret_keys


def test_generated_key_file_is_private_and_stable(tmp_path: Path) -> None:
    first = load_secret_keys("", tmp_path / "var")
    path = tmp_path / "var" / "secret.key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_secret_keys("", tmp_path / "var") == first


def test_configured_keys_win_over_the_file(tmp_path: Path) -> None:
    new, old = Fernet.generate_key(), Fernet.generate_key()
    assert load_secret_keys(f"{new.decode()}, {old.decode()}", tmp_path) == [new, old]
    assert not (tmp_path / "secret.key").exists()


def test_rotation_old_text_still_reads_then_rewritten_with_the_new_key() -> None:
    old, new = Fernet.generate_key(), Fernet.generate_key()
    stored = Cipher([old]).seal("Enlèvement à Diéma")
    both = Cipher([new, old])
    assert both.open(stored) == "Enlèvement à Diéma"
    rotated = both.rotate(stored)
    assert Cipher([new]).open(rotated) == "Enlèvement à Diéma"
    with pytest.raises(ValueError, match="no configured key"):
        Cipher([new]).open(stored)


def test_clear_text_from_before_encryption_is_read_as_is() -> None:
    assert Cipher([Fernet.generate_key()]).open("written in clear") == "written in clear"


def test_a_bad_key_names_the_setting() -> None:
    with pytest.raises(InvalidField) as err:
        Cipher([b"not-a-key"])
    assert err.value.field == "secret_keys[0]"


def test_trust_and_audit_commands(tmp_path: Path) -> None:
    env = {
        "SENTINELLE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
        "SENTINELLE_VAR_DIR": str(tmp_path / "var"),
    }
    runner = CliRunner()
    org = runner.invoke(main, ["admin", "create-org", "CSO Gao"], env=env)
    assert org.exit_code == 0, org.output
    org_id = org.output.strip().splitlines()[-1]
    created = runner.invoke(main, ["trust", "create", "Réseau Gao", "--org", org_id], env=env)
    assert created.exit_code == 0, created.output
    listed = runner.invoke(main, ["trust", "list"], env=env)
    assert "Réseau Gao" in listed.output
    assert org_id in listed.output
    unknown = runner.invoke(main, ["trust", "create", "Autre", "--org", str(uuid.uuid4())], env=env)
    assert unknown.exit_code == 2
    purged = runner.invoke(main, ["audit", "purge", "--days", "30"], env=env)
    assert purged.exit_code == 0, purged.output
    assert "0 audit entries" in purged.output
