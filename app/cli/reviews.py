"""`dl reviews`: who reviews what, and how far the expert council has got."""

from typing import Annotated, Any

import typer

from app.cli.client import ApiClient
from app.cli.common import JsonOption, connect
from app.cli.output import Column, Output

app = typer.Typer(
    name="reviews", help="The expert council: assignments and progress.", no_args_is_help=True
)

ASSIGNMENT_COLUMNS = [
    Column("reviewer"),
    Column("status"),
    Column("reviewed"),
    Column("assigned_at", "assigned"),
    Column("ended_at", "ended"),
    Column("recusal_reason", "recusal reason"),
]
STATS_COLUMNS = [
    Column("reviewer"),
    Column("open_assignments", "open"),
    Column("reviews"),
    Column("mean_score", "mean score"),
    Column("harshness"),
]


def reviewer_names(api: ApiClient) -> dict[str, str]:
    """Reviewers' names by id, so tables name people instead of showing bare ids."""
    return {m["id"]: m["full_name"] for m in api.paginate("/members", {"role": "reviewer"})}


def _named(rows: list[dict[str, Any]], names: dict[str, str]) -> list[dict[str, Any]]:
    return [{**row, "reviewer": names.get(row["reviewer_id"], row["reviewer_id"])} for row in rows]


@app.command("assign")
def assign(
    ctx: typer.Context,
    application_id: Annotated[str, typer.Argument(help="The application.")],
    remove: Annotated[str, typer.Option("--remove", help="The reviewer to take it from.")],
    add: Annotated[
        str | None,
        typer.Option(
            "--add",
            help="The reviewer to give it to (default: the least-loaded eligible reviewer).",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Take an application from one reviewer and give it to another."""
    out = Output(as_json)
    body: dict[str, Any] = {"remove_reviewer_id": remove}
    if add is not None:
        body["add_reviewer_id"] = add
    with connect(ctx) as api:
        assignments = api.post(f"/applications/{application_id}/reassign", body)
        names = reviewer_names(api) if not as_json else {}
    out.result(
        assignments,
        lambda: out.table(
            _named(assignments, names), ASSIGNMENT_COLUMNS, title=f"Application {application_id}"
        ),
    )


@app.command("progress")
def progress(
    ctx: typer.Context,
    application_id: Annotated[
        str | None,
        typer.Argument(
            help="One application: its reviewers and reviews. Without it: "
            "every reviewer's load and scoring."
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """How far the reviews are: per reviewer, or for one application."""
    out = Output(as_json)
    with connect(ctx) as api:
        if application_id is None:
            data: Any = api.get("/reviews/stats")
            rows = data["items"]
        else:
            application = api.get(f"/applications/{application_id}")
            assignments = api.get(f"/applications/{application_id}/assignments")
            reviews = api.get(f"/applications/{application_id}/reviews")
            data = {"application": application, "assignments": assignments, "reviews": reviews}
        names = reviewer_names(api) if not as_json else {}

    def human() -> None:
        if application_id is None:
            out.table(_named(rows, names), STATS_COLUMNS, title="Reviewers")
            return
        active = [a for a in assignments if a["status"] == "active"]
        done = sum(1 for a in active if a["reviewed"])
        out.record(
            {
                "application": application_id,
                "status": application["status"],
                "escalation": application.get("escalation"),
                "reviews_in": f"{done} of {len(active)}",
                "mean_score": reviews.get("mean_score"),
                "normalised_score": reviews.get("normalised_score"),
            }
        )
        out.table(_named(assignments, names), ASSIGNMENT_COLUMNS)

    out.result(data, human)
