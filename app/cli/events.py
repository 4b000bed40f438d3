"""`dl events`: create and list events, move them through their lifecycle, export who
registered, check people in at the door."""

import secrets
from typing import Annotated, Any

import typer
from rich.markup import escape

from app.cli.client import ApiError
from app.cli.common import (
    ExportFormat,
    FormatOption,
    JsonOption,
    LimitOption,
    OutputFileOption,
    connect,
    export,
)
from app.cli.output import Column, Output, columns

app = typer.Typer(
    name="events",
    help="Events: create, list, status, registrations, check-in.",
    no_args_is_help=True,
)
registrations_app = typer.Typer(
    name="registrations", help="An event's registrations.", no_args_is_help=True
)
app.add_typer(registrations_app)

EVENT_FIELDS = [
    "id",
    "title",
    "status",
    "visibility",
    "starts_at",
    "ends_at",
    "time_zone",
    "venue_name",
    "venue_address",
    "seats",
    "seats_available",
    "table_size",
    "registration_opens_at",
    "registration_closes_at",
    "confirm_by",
    "timepad_event_id",
    "description",
]
EVENT_COLUMNS = [
    Column("id"),
    Column("title"),
    Column("starts_at", "starts"),
    Column("status"),
    Column("seats"),
    Column("seats_available", "available"),
    Column("visibility"),
]
# Every field of a registration as staff read it (GET /events/{id}/registrations).
REGISTRATION_FIELDS = [
    "id",
    "event_id",
    "member_id",
    "attendee_name",
    "guest_email",
    "status",
    "waitlist_position",
    "source",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "confirmed_at",
    "checked_in_at",
    "offer_expires_at",
    "cancelled_at",
    "cancel_reason",
    "timepad_order_id",
    "timepad_status",
    "created_at",
    "updated_at",
]
STATUSES = (
    "draft",
    "published",
    "registration_open",
    "registration_closed",
    "completed",
    "cancelled",
)
COUNT_KEYS = ("confirmed", "pending", "offered", "waitlisted", "checked_in", "no_show", "cancelled")
# GET /events/{id}/counts names some statuses more briefly than the registrations do.
STATUS_COUNT_KEY = {"pending_confirmation": "pending"}

Timestamp = Annotated[str, typer.Option(help="ISO 8601 with a zone, e.g. 2027-02-09T15:00:00Z.")]
OptionalTimestamp = Annotated[
    str | None, typer.Option(help="ISO 8601 with a zone, e.g. 2027-02-07T21:00:00Z.")
]


def _choice(value: str | None, allowed: tuple[str, ...], hint: str) -> None:
    if value is not None and value not in allowed:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(allowed)}", param_hint=hint)


@app.command("create")
def create(
    ctx: typer.Context,
    title: Annotated[str, typer.Option("--title", help="The event's title.")],
    starts_at: Timestamp,
    ends_at: Timestamp,
    seats: Annotated[int, typer.Option("--seats", min=1, help="How many people it takes.")],
    time_zone: Annotated[str, typer.Option(help="IANA zone the event is in.")] = "Europe/Moscow",
    table_size: Annotated[int, typer.Option(min=2, max=20)] = 8,
    venue_name: Annotated[str | None, typer.Option()] = None,
    venue_address: Annotated[str | None, typer.Option()] = None,
    description: Annotated[str | None, typer.Option()] = None,
    visibility: Annotated[str | None, typer.Option(help="members (default) or public.")] = None,
    registration_opens_at: OptionalTimestamp = None,
    registration_closes_at: OptionalTimestamp = None,
    confirm_by: OptionalTimestamp = None,
    timepad_event_id: Annotated[int | None, typer.Option(min=1)] = None,
    as_json: JsonOption = False,
) -> None:
    """Create an event (a draft until `dl events status ID published`)."""
    out = Output(as_json)
    body: dict[str, Any] = {
        "title": title,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "seats": seats,
        "time_zone": time_zone,
        "table_size": table_size,
    }
    optional = {
        "venue_name": venue_name,
        "venue_address": venue_address,
        "description": description,
        "visibility": visibility,
        "registration_opens_at": registration_opens_at,
        "registration_closes_at": registration_closes_at,
        "confirm_by": confirm_by,
        "timepad_event_id": timepad_event_id,
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    with connect(ctx) as api:
        event = api.post("/events", body, idempotent=True)

    def human() -> None:
        out.say(f"Created event {event['id']}.")
        out.record(event, EVENT_FIELDS)

    out.result(event, human)


@app.command("list")
def list_events(
    ctx: typer.Context,
    when: Annotated[
        str | None, typer.Option("--when", help="upcoming (soonest first) or past.")
    ] = None,
    status: Annotated[str | None, typer.Option("--status", help=", ".join(STATUSES))] = None,
    limit: LimitOption = None,
    as_json: JsonOption = False,
) -> None:
    """List events (every page, or --limit)."""
    out = Output(as_json)
    _choice(when, ("upcoming", "past"), "--when")
    _choice(status, STATUSES, "--status")
    with connect(ctx) as api:
        items = list(api.paginate("/events", {"when": when, "status": status}, limit=limit))
    out.result(items, lambda: out.table(items, EVENT_COLUMNS, title=f"{len(items)} events"))


@app.command("show")
def show(
    ctx: typer.Context,
    event_id: Annotated[str, typer.Argument()],
    as_json: JsonOption = False,
) -> None:
    """One event and its registration counts."""
    out = Output(as_json)
    with connect(ctx) as api:
        event = api.get(f"/events/{event_id}")
        counts = api.get(f"/events/{event_id}/counts")

    def human() -> None:
        out.record(event, EVENT_FIELDS)
        out.table([counts], columns("seats", "available", *COUNT_KEYS))

    out.result({**event, "counts": counts}, human)


@app.command("status")
def change_status(
    ctx: typer.Context,
    event_id: Annotated[str, typer.Argument()],
    status: Annotated[str, typer.Argument(help=", ".join(STATUSES))],
    as_json: JsonOption = False,
) -> None:
    """Move an event on: publish, open or close registration, complete, cancel."""
    out = Output(as_json)
    _choice(status, STATUSES, "STATUS")
    with connect(ctx) as api:
        event = api.post(f"/events/{event_id}/status", {"status": status})
    out.result(
        event,
        lambda: out.say(
            f"Event {event['id']} ({escape(event['title'])}) is now {event['status']}."
        ),
    )


@registrations_app.command("export")
def export_registrations(
    ctx: typer.Context,
    event_id: Annotated[str, typer.Argument()],
    fmt: FormatOption = ExportFormat.csv,
    output: OutputFileOption = None,
    status: Annotated[
        str | None, typer.Option("--status", help="Only registrations in this status.")
    ] = None,
    limit: LimitOption = None,
) -> None:
    """Export an event's registrations, in order of arrival, as CSV or JSON."""
    out = Output()
    with connect(ctx) as api:
        counts = api.get(f"/events/{event_id}/counts")
        if status is None:
            total: int | None = sum(counts[key] for key in COUNT_KEYS)
        else:
            total = counts.get(STATUS_COUNT_KEY.get(status, status))
        if limit is not None and total is not None:
            total = min(total, limit)
        rows = api.paginate(f"/events/{event_id}/registrations", {"status": status}, limit=limit)
        export(
            out,
            rows,
            keys=REGISTRATION_FIELDS,
            fmt=fmt,
            path=output,
            what="registrations",
            total=total,
        )


@app.command("check-in")
def check_in(
    ctx: typer.Context,
    event_id: Annotated[str, typer.Argument()],
    registration: Annotated[
        str | None, typer.Option("--registration", "-r", help="The registration's id.")
    ] = None,
    qr: Annotated[str | None, typer.Option("--qr", help="The scanned QR code.")] = None,
    nonce: Annotated[
        str | None,
        typer.Option(
            "--nonce",
            help="The scan's nonce (default: a fresh one). Repeat one "
            "to retry a scan safely: it is answered as the first was.",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Check a person in at the door, by registration id or by their QR code."""
    out = Output(as_json)
    if (registration is None) == (qr is None):
        raise typer.BadParameter(
            "give exactly one of --registration and --qr", param_hint="--registration / --qr"
        )
    scan = nonce or secrets.token_urlsafe(12)
    with connect(ctx) as api:
        if qr is not None:
            result = api.post(f"/events/{event_id}/check-in", {"qr_token": qr, "nonce": scan})
        else:
            # The by-id route does not know which door the person is at: make sure it is
            # this event's, so nobody is checked in to another event by a typo.
            found = api.get(f"/registrations/{registration}")
            if found["event_id"] != event_id:
                raise ApiError(
                    "Wrong event",
                    f"Registration {registration} is for event "
                    f"{found['event_id']}, not {event_id}.",
                )
            result = api.post(f"/registrations/{registration}/check-in", {"nonce": scan})
    out.result(
        result,
        lambda: out.say(
            f"Checked in: {escape(result.get('attendee_name') or result['id'])} at "
            f"{result['checked_in_at']}."
        ),
    )
