"""What every command group shares: the options, the connection, exports to CSV or JSON.

A command group is a module with a ``typer.Typer`` named ``app``; ``app.cli.main`` lists the
modules. A command takes ``ctx`` for the connection and ``--json`` for its output mode.
"""

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import IO, Annotated, Any

import typer

from app.cli import config
from app.cli.client import ApiClient
from app.cli.output import Output, write_csv, write_json_array

JsonOption = Annotated[
    bool, typer.Option("--json", help="Print JSON for scripts instead of tables.")
]
LimitOption = Annotated[
    int | None,
    typer.Option("--limit", min=1, help="Stop after this many items (default: every page)."),
]
OutputFileOption = Annotated[
    Path | None,
    typer.Option(
        "--output",
        "-o",
        dir_okay=False,
        writable=True,
        help="Write to this file instead of standard output.",
    ),
]


class ExportFormat(StrEnum):
    csv = "csv"
    json = "json"


FormatOption = Annotated[
    ExportFormat,
    typer.Option(
        "--format", "-f", help="csv (a header row, then one row each) or json (one array)."
    ),
]


class UsageProblem(Exception):
    """The command cannot run as given (no login, a profile that does not exist): exit 2."""


@dataclass
class State:
    """Set by the root command from its options, read by every subcommand."""

    profile: str = config.DEFAULT_PROFILE


def state(ctx: typer.Context) -> State:
    root = ctx.find_root().obj
    return root if isinstance(root, State) else State()


def connect(ctx: typer.Context) -> ApiClient:
    """A client for the deployment and token of the chosen profile (or DL_URL / DL_TOKEN)."""
    try:
        target = config.resolve(state(ctx).profile)
    except config.ConfigError as error:
        raise UsageProblem(str(error)) from error
    return ApiClient(target.url, target.token)


@contextmanager
def _destination(path: Path | None) -> Iterator[IO[str]]:
    if path is None:
        yield sys.stdout
        sys.stdout.flush()
        return
    # Written beside the target and moved into place at the end: an export cut short by an
    # API error never leaves a truncated file that looks complete.
    partial = path.with_name(path.name + ".part")
    try:
        # newline="" lets the csv module write its own line endings, as its documentation asks.
        with partial.open("w", encoding="utf-8", newline="") as handle:
            yield handle
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


def save(out: Output, text: str, path: Path | None, what: str) -> None:
    """A document the API produced (a CSV export) to ``path`` or stdout, as it came."""
    with _destination(path) as stream:
        stream.write(text)
    if path is not None:
        out.note(f"Wrote {what} to {path}")


def export(
    out: Output,
    rows: Iterator[dict[str, Any]],
    *,
    keys: list[str],
    fmt: ExportFormat,
    path: Path | None,
    what: str,
    total: int | None = None,
) -> int:
    """Stream ``rows`` to ``path`` (or stdout) as CSV or JSON, with a progress bar on a
    terminal; returns the count and says it on stderr, away from the data."""
    with out.progress(f"Exporting {what}", total=total) as advance, _destination(path) as stream:

        def counted() -> Iterator[dict[str, Any]]:
            for row in rows:
                advance(1)
                yield row

        if fmt is ExportFormat.csv:
            count = write_csv(stream, counted(), keys)
        else:
            count = write_json_array(stream, counted())
    if path is not None:
        out.note(f"Exported {count} {what} to {path}")
    return count
