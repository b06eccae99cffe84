"""CLI entry point: runs the Typer app and turns every error into one clear line.

Never prints a traceback to a user (set RINGFENCE_DEBUG=1 to see one) and never a secret.
"""

from __future__ import annotations

import os
import sys

from ringfence.core.errors import RingfenceError


def main(argv: list[str] | None = None) -> None:
    from rich.markup import escape

    from ringfence.cli.app import app
    from ringfence.cli.output import err_console

    def fail(msg: str, code: int = 1) -> None:
        err_console.print(f"[bold red]error:[/] {escape(msg)}", highlight=False, soft_wrap=True)
        raise SystemExit(code)

    from ringfence.core.logging import configure_logging

    # Logs go to stderr (stdout carries tables and --output json) and through the redaction
    # processor; a command-line run shows warnings and errors unless RINGFENCE_LOG_LEVEL says
    # otherwise. Long-running commands (serve, gateway serve) configure their own.
    configure_logging(
        os.environ.get("RINGFENCE_LOG_FORMAT", "auto"),
        os.environ.get("RINGFENCE_LOG_LEVEL", "warning"),
    )
    try:
        # Standalone mode: Typer/Click print usage errors themselves and exit 2.
        app(args=argv, prog_name="ringfence")
    except RingfenceError as exc:
        fail(f"{exc.message} [{exc.code}]")
    except (KeyboardInterrupt, BrokenPipeError):
        fail("interrupted", 130)
    except OSError as exc:
        # A path the user gave that cannot be read or written (a file where a directory
        # should be, a missing or read-only directory, no permission): name it.
        if os.environ.get("RINGFENCE_DEBUG"):
            raise
        what = exc.strerror or type(exc).__name__
        fail(f"{what}: {exc.filename}" if exc.filename else what)
    except Exception as exc:
        # SQLAlchemy's errors, without importing it for commands that never open the store
        # (`ringfence version`, `--help`): an error of its kind means it was imported.
        sa = sys.modules.get("sqlalchemy.exc")
        if sa is not None and isinstance(exc, sa.OperationalError):
            orig = exc.orig
            fail(f"store unreachable: {str(orig).splitlines()[0] if orig else exc}")
        if os.environ.get("RINGFENCE_DEBUG"):
            raise
        if sa is not None and isinstance(exc, sa.SQLAlchemyError):
            fail(f"store error: {type(exc).__name__}")
        fail(f"internal error ({type(exc).__name__}); rerun with RINGFENCE_DEBUG=1 for details")
