"""What `dl` prints: rich tables for people, JSON for machines, CSV for spreadsheets.

Consoles are made per command, not at import, so they see the streams of the moment (a pipe,
a terminal, a test runner). Rich colours only a terminal and honours NO_COLOR; progress bars
go to stderr and only when it is a terminal, so `--json` and exports stay clean in a pipe.
"""

import csv
import json
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import IO, Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn
from rich.table import Table

from app.cli.client import ApiError
from app.csvsafe import inert

# A table piped to a file or another program must not be cut at 80 columns.
PIPE_WIDTH = 1000


def _console(stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else PIPE_WIDTH
    return Console(file=stream, width=width, highlight=False)


def cell(value: Any) -> str:
    """One value as text: nothing for null, lists joined, nested objects as compact JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return "; ".join(cell(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


@dataclass(frozen=True)
class Column:
    key: str
    header: str | None = None
    style: str | None = None

    @property
    def title(self) -> str:
        return self.header or self.key.replace("_", " ")


def columns(*keys: str) -> list[Column]:
    return [Column(key) for key in keys]


# The output mode of the command running, so the error handler at the root (which never sees
# the subcommand's options) reports an API error in the same mode.
_json_mode: ContextVar[bool] = ContextVar("dl_json_mode", default=False)


def json_mode() -> bool:
    return _json_mode.get()


def reset_json_mode() -> None:
    _json_mode.set(False)


class Output:
    def __init__(self, as_json: bool = False):
        self.as_json = as_json
        _json_mode.set(as_json)
        self.out = _console()
        self.err = _console(stderr=True)

    def json(self, data: Any) -> None:
        # Written raw, not through rich: machines get exactly one JSON document.
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
        sys.stdout.flush()

    def table(
        self, rows: Iterable[dict[str, Any]], cols: Sequence[Column], *, title: str | None = None
    ) -> None:
        table = Table(title=title, show_lines=False, header_style="bold")
        for col in cols:
            table.add_column(col.title, style=col.style, overflow="fold")
        for row in rows:
            table.add_row(*(escape(cell(row.get(col.key))) for col in cols))
        self.out.print(table)

    def record(self, data: dict[str, Any], keys: Sequence[str] | None = None) -> None:
        """One resource as a two-column table of field and value."""
        table = Table(show_header=False, box=None, pad_edge=False)
        table.add_column(style="bold")
        table.add_column(overflow="fold")
        for key in keys or list(data):
            table.add_row(key.replace("_", " "), escape(cell(data.get(key))))
        self.out.print(table)

    def result(self, data: Any, human: Callable[[], None]) -> None:
        """``data`` as JSON with --json, else whatever ``human`` prints."""
        if self.as_json:
            self.json(data)
        else:
            human()

    def say(self, message: str) -> None:
        """A line for people (on stdout; suppressed under --json, which prints data only)."""
        if not self.as_json:
            self.out.print(message)

    def note(self, message: str) -> None:
        """A side remark on stderr, kept out of any data on stdout."""
        self.err.print(message)

    def problem(self, error: ApiError) -> None:
        if self.as_json and error.problem:
            sys.stderr.write(json.dumps(error.problem, ensure_ascii=False) + "\n")
            return
        status = f" ({error.status})" if error.status else ""
        self.err.print(f"[bold red]Error{status}:[/] {escape(error.title)}")
        if error.detail:
            self.err.print(escape(str(error.detail)))
        for line in error.field_errors:
            self.err.print(f"  - {escape(line)}")

    @contextmanager
    def progress(
        self, description: str, total: int | None = None
    ) -> Iterator[Callable[[int], None]]:
        """A progress bar on stderr (a terminal only); yields ``advance(n)``."""
        bar = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=self.err,
            transient=True,
            disable=not self.err.is_terminal,
        )
        with bar:
            task = bar.add_task(description, total=total)
            yield lambda n: bar.advance(task, n)


def write_csv(stream: IO[str], rows: Iterable[dict[str, Any]], keys: Sequence[str]) -> int:
    """Rows as CSV with a header of ``keys``; returns how many rows were written."""
    writer = csv.writer(stream)
    writer.writerow(keys)
    count = 0
    for row in rows:
        writer.writerow([inert(cell(row.get(key))) for key in keys])
        count += 1
    return count


def write_json_array(stream: IO[str], rows: Iterable[dict[str, Any]]) -> int:
    """Rows as one JSON array, written as they come (an export need not fit in memory)."""
    count = 0
    stream.write("[")
    for row in rows:
        stream.write(",\n  " if count else "\n  ")
        stream.write(json.dumps(row, ensure_ascii=False))
        count += 1
    stream.write("\n]\n" if count else "]\n")
    return count
