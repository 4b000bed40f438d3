"""`dl applications`: import a form export (CSV) and read the funnel."""

import csv
import io
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from app.cli.client import ApiClient
from app.cli.common import JsonOption, connect
from app.cli.output import Column, Output, columns
from app.cli.reviews import reviewer_names

app = typer.Typer(
    name="applications", help="Applications: CSV import and the funnel.", no_args_is_help=True
)

# The import route takes the file as one text/csv body under the request size limit (1 MiB by
# default) and a row limit. Sending it in parts keeps any file under both and lets the progress
# bar move; the import is idempotent by e-mail, so parts add up to the whole file.
ROWS_PER_PART = 200
BYTES_PER_PART = 256 * 1024

REPORT_COLUMNS = [
    Column("row"),
    Column("status"),
    Column("email"),
    Column("application_id", "application"),
    Column("errors", style="red"),
]


@dataclass
class Part:
    body: bytes
    records: int
    # Added to a row number the API reports for this part to get the line in the whole file.
    line_shift: int


def _delimiter(first_line: str) -> str:
    # The same choice the API makes on the header line, so both read the rows alike.
    return max((",", ";", "\t"), key=first_line.count)


def split_csv(
    content: bytes, *, rows_per_part: int = ROWS_PER_PART, bytes_per_part: int = BYTES_PER_PART
) -> list[Part]:
    """The file as parts that each repeat the header. Records are kept whole (a quoted field
    may span lines). A file this cannot read goes as one part, for the API to explain."""
    try:
        text = content.decode("utf-8-sig")
        # Lines as the csv reader counts them (io.StringIO splits on \\n only), so line
        # numbers map back exactly.
        lines = io.StringIO(text).readlines()
        reader = csv.reader(iter(lines), delimiter=_delimiter(text.split("\n", 1)[0]))
        next(reader)
        header_lines = reader.line_num
        spans: list[tuple[int, int]] = []
        start = header_lines
        for _record in reader:
            spans.append((start, reader.line_num))
            start = reader.line_num
    except (UnicodeDecodeError, csv.Error, StopIteration):
        return [Part(content, 0, 0)]
    header = "".join(lines[:header_lines])
    if header and not header.endswith("\n"):
        header += "\n"
    parts: list[Part] = []
    index = 0
    while index < len(spans):
        first = spans[index][0]
        size = len(header.encode())
        end = index
        while end < len(spans) and end - index < rows_per_part:
            added = sum(len(line.encode()) for line in lines[spans[end][0] : spans[end][1]])
            if end > index and size + added > bytes_per_part:
                break
            size += added
            end += 1
        last = spans[end - 1][1]
        body = header + "".join(lines[first:last])
        parts.append(Part(body.encode(), end - index, first - header_lines))
        index = end
    return parts or [Part(content, 0, 0)]


def import_file(api: ApiClient, out: Output, content: bytes) -> dict[str, Any]:
    parts = split_csv(content, rows_per_part=ROWS_PER_PART, bytes_per_part=BYTES_PER_PART)
    report: dict[str, Any] = {"created": 0, "updated": 0, "unchanged": 0, "errors": 0, "rows": []}
    total = sum(part.records for part in parts) or None
    with out.progress("Importing applications", total=total) as advance:
        for part in parts:
            response = api.request(
                "POST",
                "/applications/import",
                content=part.body,
                headers={"Content-Type": "text/csv; charset=utf-8"},
            )
            result = response.json()
            for key in ("created", "updated", "unchanged", "errors"):
                report[key] += result[key]
            for row in result["rows"]:
                report["rows"].append({**row, "row": row["row"] + part.line_shift})
            advance(part.records)
    return report


@app.command("import")
def import_applications(
    ctx: typer.Context,
    file: Annotated[
        Path,
        typer.Argument(
            help="The CSV form export (UTF-8, ',' or ';'); - reads stdin.",
            allow_dash=True,
            dir_okay=False,
        ),
    ],
    errors_only: Annotated[
        bool, typer.Option("--errors-only", help="List only the rows that failed.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Import applications from a CSV export and print the report per row."""
    out = Output(as_json)
    if str(file) == "-":
        content = sys.stdin.buffer.read()
    else:
        try:
            content = file.read_bytes()
        except OSError as error:
            raise typer.BadParameter(str(error), param_hint="FILE") from error
    with connect(ctx) as api:
        report = import_file(api, out, content)

    def human() -> None:
        rows = (
            [r for r in report["rows"] if r["status"] == "error"] if errors_only else report["rows"]
        )
        if rows:
            out.table(rows, REPORT_COLUMNS)
        out.say(
            f"created {report['created']}, updated {report['updated']}, "
            f"unchanged {report['unchanged']}, errors {report['errors']}"
        )

    out.result(report, human)


@app.command("stats")
def stats(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """The funnel: applications by status, source and campaign; approval rate; time to a
    decision; reviews outstanding per reviewer."""
    out = Output(as_json)
    with connect(ctx) as api:
        data = api.get("/applications/stats")
        names = reviewer_names(api) if data["reviews_outstanding"] and not as_json else {}

    def human() -> None:
        rate = data["approval_rate"]
        hours = data["median_hours_to_decision"]
        out.record(
            {
                "applications": data["total"],
                "approval_rate": f"{rate:.0%}" if rate is not None else None,
                "median_hours_to_decision": f"{hours:.1f}" if hours is not None else None,
            }
        )
        out.table(
            [{"status": k, "count": v} for k, v in data["by_status"].items()],
            columns("status", "count"),
            title="By status",
        )
        out.table(
            [{"source": r["key"], "count": r["count"]} for r in data["by_source"]],
            columns("source", "count"),
            title="By source",
        )
        out.table(
            [{"campaign": r["key"], "count": r["count"]} for r in data["by_utm_campaign"]],
            columns("campaign", "count"),
            title="By UTM campaign",
        )
        if data["reviews_outstanding"]:
            out.table(
                [
                    {
                        "reviewer": names.get(r["reviewer_id"], r["reviewer_id"]),
                        "outstanding": r["outstanding"],
                    }
                    for r in data["reviews_outstanding"]
                ],
                columns("reviewer", "outstanding"),
                title="Reviews outstanding",
            )

    out.result(data, human)
