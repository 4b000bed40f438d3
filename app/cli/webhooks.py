"""`dl webhooks`: subscriptions, their delivery log, and sending deliveries again."""

from typing import Annotated

import typer

from app.cli.common import JsonOption, LimitOption, connect
from app.cli.output import Column, Output

app = typer.Typer(
    name="webhooks",
    help="Webhook subscriptions: list, deliveries, redeliver.",
    no_args_is_help=True,
)

SUBSCRIPTION_COLUMNS = [
    Column("id"),
    Column("url"),
    Column("event_types", "events"),
    Column("enabled"),
    Column("disabled_reason", "disabled because"),
    Column("failing_since", "failing since"),
]
DELIVERY_COLUMNS = [
    Column("id"),
    Column("event_type", "event"),
    Column("status"),
    Column("attempts"),
    Column("last_status_code", "last code"),
    Column("last_error", "last error"),
    Column("created_at", "created"),
    Column("next_attempt_at", "next attempt"),
]
DELIVERY_STATUSES = ("pending", "succeeded", "failed")


@app.command("list")
def list_subscriptions(
    ctx: typer.Context, limit: LimitOption = None, as_json: JsonOption = False
) -> None:
    """Every webhook subscription."""
    out = Output(as_json)
    with connect(ctx) as api:
        items = list(api.paginate("/webhooks", limit=limit))
    out.result(items, lambda: out.table(items, SUBSCRIPTION_COLUMNS))


@app.command("deliveries")
def deliveries(
    ctx: typer.Context,
    subscription_id: Annotated[str, typer.Argument()],
    status: Annotated[
        str | None, typer.Option("--status", help=", ".join(DELIVERY_STATUSES))
    ] = None,
    event_type: Annotated[
        str | None, typer.Option("--event-type", help="e.g. member.updated.")
    ] = None,
    limit: LimitOption = None,
    as_json: JsonOption = False,
) -> None:
    """A subscription's delivery log, newest first."""
    out = Output(as_json)
    with connect(ctx) as api:
        items = list(
            api.paginate(
                f"/webhooks/{subscription_id}/deliveries",
                {"status": status, "event_type": event_type},
                limit=limit,
            )
        )
    out.result(items, lambda: out.table(items, DELIVERY_COLUMNS, title=f"{len(items)} deliveries"))


@app.command("redeliver")
def redeliver(
    ctx: typer.Context,
    subscription_id: Annotated[str, typer.Argument()],
    delivery_ids: Annotated[
        list[str] | None, typer.Argument(help="Deliveries to send again.")
    ] = None,
    failed_since: Annotated[
        str | None,
        typer.Option(
            "--failed-since",
            help="Instead: every failed delivery created since this time (ISO 8601 with a zone).",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Send deliveries again (same webhook-id, so receivers can deduplicate)."""
    out = Output(as_json)
    if bool(delivery_ids) == (failed_since is not None):
        raise typer.BadParameter(
            "give delivery ids or --failed-since, not both or neither",
            param_hint="DELIVERY_IDS / --failed-since",
        )
    requeued: list[str] = []
    with connect(ctx) as api:
        if failed_since is not None:
            accepted = api.post(
                f"/webhooks/{subscription_id}/redeliver-failed", {"since": failed_since}
            )
            requeued.extend(accepted["delivery_ids"])
        for delivery_id in delivery_ids or []:
            accepted = api.post(f"/webhooks/{subscription_id}/deliveries/{delivery_id}/redeliver")
            requeued.extend(accepted["delivery_ids"])
    result = {"requeued": len(requeued), "delivery_ids": requeued}
    out.result(
        result,
        lambda: out.say(
            f"{len(requeued)} deliveries queued to be sent again"
            + (f": {', '.join(requeued)}" if requeued else ".")
        ),
    )
