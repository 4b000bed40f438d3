"""`dl seating`: draft an event's seating with the solver, read it table by table, swap two
people, publish it as the event's tables."""

from typing import Annotated, Any

import typer
from rich.markup import escape

from app.cli.common import JsonOption, connect
from app.cli.output import Output, columns

app = typer.Typer(
    name="seating",
    help="Seat an event's attendees at tables: generate, show, swap, publish.",
    no_args_is_help=True,
)

EventArg = Annotated[str, typer.Argument(help="The event's id.")]
_COLUMNS = columns("name", "function", "seniority", "role", "member_id")


def _print_plan(out: Output, plan: dict[str, Any]) -> None:
    metrics = plan["metrics"]
    rounds = plan.get("rounds") or [{"round": 1, "tables": plan["tables"]}]
    over = f" in each of {len(rounds)} rounds" if len(rounds) > 1 else ""
    out.say(
        f"Plan {plan['id']} ({plan['status']}), {len(plan['tables'])} tables{over}: "
        f"{metrics['repeated_pairs']} repeated pairs (at least "
        f"{metrics.get('lower_bound', 0)} by counting), "
        f"{metrics['duplicate_function_pairs']} same-function pairs, seniority range "
        f"{metrics['seniority_range_mean']} on average (at most "
        f"{metrics['seniority_range_max']}), hard rules broken: "
        f"{metrics['hard_violations']}."
    )
    for entry in rounds:
        if len(rounds) > 1:
            out.say(f"Round {entry['round']}")
        _print_tables(out, entry["tables"])


def _print_tables(out: Output, tables: list[dict[str, Any]]) -> None:
    for table in tables:
        rows = [
            {
                "name": a["full_name"],
                "function": a["function"],
                "seniority": a["seniority"],
                "role": ", ".join(k for k in ("facilitator", "has_case", "pinned") if a[k]).replace(
                    "has_case", "case"
                ),
                "member_id": a["member_id"],
            }
            for a in table["attendees"]
        ]
        out.table(rows, _COLUMNS, title=f"Table {table['number']} (score {table['score']})")
        for reason in table["reasons"]:
            out.say(f"  - {escape(reason['text'])}")


@app.command("generate")
def generate(
    ctx: typer.Context,
    event: EventArg,
    seed: Annotated[int, typer.Option(min=0, help="The same seed gives the same plan.")] = 0,
    time_limit: Annotated[
        float, typer.Option(min=0.1, max=30.0, help="The solver's budget in seconds.")
    ] = 5.0,
    tables: Annotated[int | None, typer.Option(min=1, help="How many tables.")] = None,
    rounds: Annotated[
        int, typer.Option(min=1, max=12, help="Seat everyone N times, planned together.")
    ] = 1,
    facilitators_stay: Annotated[
        bool, typer.Option(help="Each facilitator keeps one table through the rounds.")
    ] = False,
    weight_repeat_pairs: Annotated[float | None, typer.Option(min=0)] = None,
    weight_mixed_functions: Annotated[float | None, typer.Option(min=0)] = None,
    weight_seniority: Annotated[float | None, typer.Option(min=0)] = None,
    as_json: JsonOption = False,
) -> None:
    """Draft a seating of the confirmed attendees (replaces an earlier draft)."""
    out = Output(as_json)
    weights = {
        key: value
        for key, value in (
            ("repeat_pairs", weight_repeat_pairs),
            ("mixed_functions", weight_mixed_functions),
            ("seniority", weight_seniority),
        )
        if value is not None
    }
    body: dict[str, Any] = {
        "seed": seed,
        "time_limit_s": time_limit,
        "weights": weights,
        "rounds": rounds,
        "facilitators_stay": facilitators_stay,
    }
    if tables is not None:
        body["tables"] = tables
    with connect(ctx) as api:
        plan = api.post(f"/events/{event}/seating", body)
    out.result(plan, lambda: _print_plan(out, plan))


@app.command("show")
def show(ctx: typer.Context, event: EventArg, as_json: JsonOption = False) -> None:
    """The plan being worked on, table by table, with each table's reasons."""
    out = Output(as_json)
    with connect(ctx) as api:
        plan = api.get(f"/events/{event}/seating")
    out.result(plan, lambda: _print_plan(out, plan))


@app.command("swap")
def swap(
    ctx: typer.Context,
    event: EventArg,
    member: Annotated[str, typer.Argument(help="One member's id.")],
    other: Annotated[str, typer.Argument(help="The other member's id.")],
    round_number: Annotated[
        int, typer.Option("--round", min=1, max=12, help="The round to swap them in.")
    ] = 1,
    as_json: JsonOption = False,
) -> None:
    """Swap two people's tables in one round (refused with the rule it would break)."""
    out = Output(as_json)
    with connect(ctx) as api:
        plan = api.post(
            f"/events/{event}/seating/swaps",
            {"member_id": member, "other_member_id": other, "round": round_number},
        )
    out.result(plan, lambda: _print_plan(out, plan))


@app.command("publish")
def publish(ctx: typer.Context, event: EventArg, as_json: JsonOption = False) -> None:
    """Publish the plan: the event's tables are created and members see theirs."""
    out = Output(as_json)
    with connect(ctx) as api:
        plan = api.post(f"/events/{event}/seating/publish")
    rounds = len(plan.get("rounds", []))
    over = f" in each of {rounds} rounds" if rounds > 1 else ""
    out.result(
        plan,
        lambda: out.say(
            f"Published: {len(plan['tables'])} tables{over}, "
            f"{sum(len(t['attendees']) for t in plan['tables'])} people seated."
        ),
    )
