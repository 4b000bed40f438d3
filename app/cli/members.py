"""`dl members`: the directory as the API shows it to the caller (privacy applied there)."""

from typing import Annotated, Any

import typer

from app.cli.common import (
    ExportFormat,
    FormatOption,
    JsonOption,
    LimitOption,
    OutputFileOption,
    connect,
    export,
)
from app.cli.output import Output, columns

app = typer.Typer(
    name="members", help="The member directory: list, show, export.", no_args_is_help=True
)

# Every field of a member as GET /members returns it, in the order of the schema.
FIELDS = [
    "id",
    "full_name",
    "email",
    "phone",
    "company",
    "job_title",
    "city",
    "function",
    "seniority",
    "seniority_label",
    "industry",
    "expertise_tags",
    "bio",
    "links",
    "status",
    "member_since",
]
LIST_COLUMNS = columns(
    "id", "full_name", "function", "seniority", "city", "industry", "company", "status"
)

FunctionOpt = Annotated[str | None, typer.Option("--function", help="e.g. CTO, CIO, CDO.")]
SeniorityOpt = Annotated[int | None, typer.Option("--seniority", min=1, max=5)]
CityOpt = Annotated[str | None, typer.Option("--city")]
IndustryOpt = Annotated[str | None, typer.Option("--industry")]
TagOpt = Annotated[str | None, typer.Option("--tag", help="An expertise tag.")]
StatusOpt = Annotated[str | None, typer.Option("--status", help="active, paused or left.")]
RoleOpt = Annotated[str | None, typer.Option("--role", help="e.g. reviewer, facilitator.")]
SearchOpt = Annotated[str | None, typer.Option("--search", "-q", help="Part of the name.")]
CompanyOpt = Annotated[str | None, typer.Option("--company", help="Admins only.")]
EmailOpt = Annotated[str | None, typer.Option("--email", help="Admins only.")]
SortOpt = Annotated[
    str | None,
    typer.Option("--sort", help="full_name, created_at or (admins) company; prefix - to reverse."),
]


def _filters(**values: Any) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


@app.command("list")
def list_members(
    ctx: typer.Context,
    function: FunctionOpt = None,
    seniority: SeniorityOpt = None,
    city: CityOpt = None,
    industry: IndustryOpt = None,
    tag: TagOpt = None,
    status: StatusOpt = None,
    role: RoleOpt = None,
    search: SearchOpt = None,
    company: CompanyOpt = None,
    email: EmailOpt = None,
    sort: SortOpt = None,
    limit: LimitOption = None,
    as_json: JsonOption = False,
) -> None:
    """List members (every page, or --limit)."""
    out = Output(as_json)
    params = _filters(
        function=function,
        seniority=seniority,
        city=city,
        industry=industry,
        tag=tag,
        status=status,
        role=role,
        q=search,
        company=company,
        email=email,
        sort=sort,
    )
    with connect(ctx) as api:
        items = list(api.paginate("/members", params, limit=limit))
    out.result(items, lambda: out.table(items, LIST_COLUMNS, title=f"{len(items)} members"))


@app.command("show")
def show_member(
    ctx: typer.Context,
    member: Annotated[str, typer.Argument(help="The member's id, or (admins) their e-mail.")],
    as_json: JsonOption = False,
) -> None:
    """One member's profile."""
    out = Output(as_json)
    with connect(ctx) as api:
        if "@" in member:
            found = list(api.paginate("/members", {"email": member}, limit=1))
            if not found:
                out.note(f"No member with the e-mail {member}.")
                raise typer.Exit(1)
            member = found[0]["id"]
        data = api.get(f"/members/{member}")
    out.result(data, lambda: out.record(data, FIELDS))


@app.command("export")
def export_members(
    ctx: typer.Context,
    fmt: FormatOption = ExportFormat.csv,
    output: OutputFileOption = None,
    function: FunctionOpt = None,
    seniority: SeniorityOpt = None,
    city: CityOpt = None,
    industry: IndustryOpt = None,
    tag: TagOpt = None,
    status: StatusOpt = None,
    role: RoleOpt = None,
    search: SearchOpt = None,
    company: CompanyOpt = None,
    email: EmailOpt = None,
    sort: SortOpt = None,
    limit: LimitOption = None,
) -> None:
    """Export members as CSV or JSON, following every page (filters as for `list`)."""
    out = Output()
    params = _filters(
        function=function,
        seniority=seniority,
        city=city,
        industry=industry,
        tag=tag,
        status=status,
        role=role,
        q=search,
        company=company,
        email=email,
        sort=sort,
    )
    with connect(ctx) as api:
        export(
            out,
            api.paginate("/members", params, limit=limit),
            keys=FIELDS,
            fmt=fmt,
            path=output,
            what="members",
        )


# One request invites at most this many listed members (the API takes 1000 per call).
INVITE_BATCH = 200


@app.command("invite")
def invite_members(
    ctx: typer.Context,
    member_ids: Annotated[
        list[str] | None, typer.Argument(help="Member ids to invite (or --all-pending).")
    ] = None,
    all_pending: Annotated[
        bool,
        typer.Option("--all-pending", help="Every approved member who has not set a password yet."),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Send invitations to set a password (valid 14 days). Safe to repeat: whoever was
    invited within the hour, or has a password already, is skipped and reported. Admins only."""
    out = Output(as_json)
    ids = list(dict.fromkeys(member_ids or []))
    if all_pending == bool(ids):
        raise typer.BadParameter("Give member ids, or --all-pending (not both).")
    results: list[dict[str, Any]] = []
    with connect(ctx) as api:
        if all_pending:
            with out.progress("Inviting every pending member") as advance:
                results = api.post("/members/invitations", {"all_pending": True})["results"]
                advance(len(results))
        else:
            with out.progress("Inviting members", total=len(ids)) as advance:
                for start in range(0, len(ids), INVITE_BATCH):
                    batch = ids[start : start + INVITE_BATCH]
                    report = api.post("/members/invitations", {"member_ids": batch})
                    results.extend(report["results"])
                    advance(len(batch))
    sent = sum(1 for r in results if r["sent"])
    summary = {"sent": sent, "skipped": len(results) - sent, "results": results}

    def human() -> None:
        out.say(f"{sent} invitations sent, {len(results) - sent} skipped.")
        skipped = [r for r in results if not r["sent"]]
        if skipped:
            out.table(skipped, columns("member_id", "reason"), title="Skipped")

    out.result(summary, human)
