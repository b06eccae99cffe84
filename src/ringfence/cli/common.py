"""Shared CLI plumbing: options every command takes and the runtime they open."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ringfence.cli.output import OutputFormat
from ringfence.core.config import Settings, load_settings

if TYPE_CHECKING:  # the runtime (SQLAlchemy, Alembic) is imported by the commands that open it
    from ringfence.runtime import Runtime

OutputOpt = Annotated[
    OutputFormat,
    typer.Option("--output", "-o", help="table for people, json for machines."),
]
DataDirOpt = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Data directory (default ./.ringfence or RINGFENCE_DATA_DIR)."),
]


def settings_for(data_dir: Path | None) -> Settings:
    return load_settings(data_dir=data_dir) if data_dir is not None else load_settings()


def open_runtime(data_dir: Path | None) -> Runtime:
    from ringfence.runtime import Runtime

    return Runtime.open(settings_for(data_dir))
