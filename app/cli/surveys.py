"""`dl surveys`: the express survey after an event, and its results as a table, CSV or JSON."""

from typing import Annotated, Any

import typer

from app.cli.common import JsonOption, LimitOption, OutputFileOption, connect, save
from app.cli.output import Output, columns

app = typer.Typer(
    name="surveys",
    help="Surveys: the express survey after an event, list, results.",
    no_args_is_help=True,
)

SURVEY_COLUMNS = columns("id", "title", "status", "anonymous", "audience", "event_id", "closes_at")
QUESTION_COLUMNS = columns("key", "type", "answered", "mean", "median", "nps", "top")
GROUP_COLUMNS = columns("key", "table_number", "facilitator_id", "responses")
AUDIENCES = ("checked_in", "confirmed", "members")


@app.command("create-express")
def create_express(
    ctx: typer.Context,
    event: Annotated[str, typer.Argument(help="The event's id.")],
    language: Annotated[str, typer.Option(help="ru or en: the questions' language.")] = "ru",
    named: Annotated[
        bool, typer.Option("--named", help="Link answers to people (default: anonymous).")
    ] = False,
    audience: Annotated[
        str, typer.Option(help="checked_in (default), confirmed or members.")
    ] = "checked_in",
    closes_at: Annotated[
        str | None, typer.Option(help="ISO 8601 with a zone; default two weeks after the event.")
    ] = None,
    open_now: Annotated[
        bool, typer.Option("--open/--no-open", help="Open at once and invite.")
    ] = True,
    as_json: JsonOption = False,
) -> None:
    """The five-question survey after an event (1-5, NPS, most useful, change, next topics)."""
    if language not in ("ru", "en"):
        raise typer.BadParameter("ru or en", param_hint="--language")
    if audience not in AUDIENCES:
        raise typer.BadParameter(", ".join(AUDIENCES), param_hint="--audience")
    out = Output(as_json)
    body: dict[str, Any] = {
        "language": language,
        "anonymous": not named,
        "audience": audience,
        "open_now": open_now,
    }
    if closes_at is not None:
        body["closes_at"] = closes_at
    with connect(ctx) as api:
        survey = api.post(f"/events/{event}/surveys/express", body, idempotent=True)
    out.result(
        survey,
        lambda: out.say(
            f"Created survey {survey['id']} ({survey['status']}, "
            f"{'anonymous' if survey['anonymous'] else 'named'}, {len(survey['questions'])} "
            f"questions)."
        ),
    )


@app.command("list")
def list_surveys(
    ctx: typer.Context,
    event: Annotated[str | None, typer.Option("--event", help="Only this event's.")] = None,
    limit: LimitOption = None,
    as_json: JsonOption = False,
) -> None:
    """Surveys, newest first."""
    out = Output(as_json)
    with connect(ctx) as api:
        items = list(api.paginate("/surveys", {"event_id": event}, limit=limit))
    out.result(items, lambda: out.table(items, SURVEY_COLUMNS, title=f"{len(items)} surveys"))


def _print_results(out: Output, results: dict[str, Any]) -> None:
    def share(value: float | None) -> str:
        return "-" if value is None else f"{value:.0%}"

    out.say(
        f"{results['responses']} answers of {results['audience']} "
        f"({share(results['response_rate'])}); satisfied "
        f"(>= {results['satisfied_threshold']} on '{results['headline_question']}'): "
        f"{share(results['satisfied_share'])}; NPS "
        f"{'-' if results['nps'] is None else round(results['nps'])}."
    )
    rows = []
    for question in results["questions"]:
        top = max(question["distribution"].items(), key=lambda item: item[1], default=None)
        rows.append({**question, "top": f"{top[0]} ({top[1]})" if top else None})
    out.table(rows, QUESTION_COLUMNS, title="Questions")
    for name in ("by_table", "by_facilitator"):
        breakdown = results[name]
        if breakdown["groups"] or breakdown["withheld"]:
            out.table(
                breakdown["groups"],
                GROUP_COLUMNS,
                title=f"{name.replace('_', ' ')}: {breakdown['withheld']} groups under "
                f"{results['min_group_size']} answers withheld",
            )


@app.command("results")
def results(
    ctx: typer.Context,
    survey: Annotated[str, typer.Argument(help="The survey's id.")],
    csv: Annotated[bool, typer.Option("--csv", help="Every response as CSV (the export).")] = False,
    output: OutputFileOption = None,
    as_json: JsonOption = False,
) -> None:
    """The figures as a table (or --json), or every response as CSV with --csv."""
    out = Output(as_json)
    with connect(ctx) as api:
        if csv:
            text = api.request("GET", f"/surveys/{survey}/export", params={"format": "csv"}).text
            save(out, text, output, "the responses")
            return
        figures = api.get(f"/surveys/{survey}/results")
    out.result(figures, lambda: _print_results(out, figures))
