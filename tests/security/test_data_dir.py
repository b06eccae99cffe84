"""The data directory holds the store (people, audit, token hashes, wrapped secrets) next to
the master key file: ``initialise`` creates it readable by its owner only."""

from __future__ import annotations

import stat
from pathlib import Path

from ringfence.core.config import load_settings
from ringfence.runtime import initialise


def test_new_data_dir_is_private(tmp_path: Path) -> None:
    data = tmp_path / "fresh" / "data"
    initialise(load_settings(data_dir=data))
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    key = next(data.glob("*key*"))
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_existing_data_dir_is_left_alone(tmp_path: Path) -> None:
    data = tmp_path / "shared"
    data.mkdir(mode=0o750)
    data.chmod(0o750)
    initialise(load_settings(data_dir=data))
    assert stat.S_IMODE(data.stat().st_mode) == 0o750
