"""``ringfence rules`` and ``ringfence alerts`` command groups."""

from __future__ import annotations

import typer

rules_app = typer.Typer(help="Sigma rules: validate, test, list.", no_args_is_help=True)
alerts_app = typer.Typer(help="Alerts (OCSF Detection Findings).", no_args_is_help=True)
