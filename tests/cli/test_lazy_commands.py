"""The root CLI imports a capability only when one of its commands runs (or for ``--help``)."""

from __future__ import annotations

import importlib
import subprocess
import sys

import typer
from typer.testing import CliRunner

from ringfence.cli.app import _COMMAND_MODULES, _LAZY, _SUBCOMMANDS, app


def test_the_registry_names_exactly_what_each_module_registers() -> None:
    for module, names in _COMMAND_MODULES:
        holder = typer.Typer()
        importlib.import_module(module).register(holder)
        registered = {c.name for c in holder.registered_commands} | {
            g.name for g in holder.registered_groups
        }
        assert registered == set(names), module
    for name, module in _SUBCOMMANDS:
        assert isinstance(importlib.import_module(module).app, typer.Typer), name
    # one name, one module: a clash would hide a command
    assert len(_LAZY) == len(_SUBCOMMANDS) + sum(len(n) for _, n in _COMMAND_MODULES)


def test_help_lists_every_command_and_each_one_runs() -> None:
    runner = CliRunner()
    listing = runner.invoke(app, ["--help"], terminal_width=200)
    assert listing.exit_code == 0, listing.output
    for name in [*_LAZY, "init", "version"]:
        assert f" {name} " in listing.output, name
        result = runner.invoke(app, [name, "--help"])
        assert result.exit_code == 0, (name, result.output)
        assert "Usage:" in result.output


def test_an_unknown_command_is_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["scna"])
    assert result.exit_code == 2
    assert "No such command" in result.output


def test_scan_does_not_import_the_other_capabilities() -> None:
    code = (
        "import sys\n"
        "from ringfence.cli import main\n"
        "try:\n"
        "    main(['scan', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('ringfence.')), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "Usage:" in done.stdout
    loaded = done.stderr
    assert "ringfence.classify.cli" in loaded
    for other in ("ringfence.gateway", "ringfence.identity", "ringfence.monitor", "ringfence.web"):
        assert f"'{other}" not in loaded, other


def test_version_does_not_import_the_store() -> None:
    """`ringfence version` never opens the store: SQLAlchemy and Alembic (≈ 0.4 s of imports)
    are loaded only by the commands that do (and by `--help`, which loads every command)."""
    code = (
        "import sys\n"
        "from ringfence.cli import main\n"
        "try:\n"
        "    main(['version'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print([m for m in ('sqlalchemy', 'alembic', 'ringfence.runtime') if m in sys.modules],"
        " file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip()
    assert done.stderr.strip().splitlines()[-1] == "[]"


def test_an_unreachable_store_is_one_line(tmp_path: object) -> None:
    """The CLI still names an unreachable store after SQLAlchemy left its import list."""
    import os

    env = dict(os.environ)
    env["RINGFENCE_STORE_URL"] = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    env["RINGFENCE_DATA_DIR"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", "from ringfence.cli import main; main(['init'])"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 1, done.stderr
    assert "store unreachable" in done.stderr and "Traceback" not in done.stderr
