"""The only code that knows Timepad's field names and status codes (pure).

Two payload shapes arrive: the order object (``status.name``, ``mail``, ``event.id``, ``id``)
and the legacy flat ticket (``status_raw``, ``email``, ``event_id``, ``order_id``). Both
become a ``TimepadOrder``.
"""

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from app.core.schemas import without_refused


class Target(StrEnum):
    """What a Timepad status means for our registration."""

    pending = "pending"
    confirmed = "confirmed"
    cancelled = "cancelled"


CONFIRMED_CODES = frozenset({"paid", "ok", "paid_offline", "paid_ur", "transfer_payment"})
PENDING_CODES = frozenset({"booked", "booked_offline", "pending"})

# Orders move forward: booked, then paid, then perhaps refunded. Timepad promises no
# delivery order, so a status ranked below the one we hold arrived late and is ignored
# (reconciliation, which reads the current state, overrides this).
RANK = {Target.pending: 1, Target.confirmed: 2, Target.cancelled: 3}


class BadPayload(ValueError):
    pass


@dataclass(frozen=True)
class TimepadOrder:
    order_id: int
    event_id: int
    email: str | None
    name: str | None
    status_code: str

    @property
    def target(self) -> Target:
        return target_of(self.status_code)


def target_of(code: str) -> Target:
    if code in CONFIRMED_CODES:
        return Target.confirmed
    if code in PENDING_CODES:
        return Target.pending
    return Target.cancelled


def _int(value: Any, field: str) -> int:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise BadPayload(f"{field} is not a number") from None
    if number <= 0:
        raise BadPayload(f"{field} is not positive")
    return number


def _answers(raw: Any) -> dict[str, str]:
    """Form answers: a dict (order shape) or a list of {name, value} (legacy shape)."""
    if isinstance(raw, dict):
        return {str(k).lower(): str(v) for k, v in raw.items() if v is not None}
    if isinstance(raw, list):
        return {
            str(a.get("name", "")).lower(): str(a.get("value", ""))
            for a in raw
            if isinstance(a, dict) and a.get("value") is not None
        }
    return {}


def _name(first: Any, last: Any) -> str | None:
    # A guest's name is shown to door staff and admins: no control or bidirectional marks.
    name = " ".join(without_refused(str(part)).strip() for part in (first, last) if part)
    return name or None


def parse_order(data: Any) -> TimepadOrder:
    """One order from either shape; ``BadPayload`` when it is neither."""
    if not isinstance(data, dict):
        raise BadPayload("the payload is not an object")
    status = data.get("status")
    if isinstance(status, dict):  # the order shape
        code = status.get("name")
        raw_event = data.get("event")
        event: dict[str, Any] = raw_event if isinstance(raw_event, dict) else {}
        event_id = event.get("id", data.get("event_id"))
        order_id = data.get("id")
        email = data.get("mail") or data.get("email")
        answers = _answers(data.get("answers"))
        # The order's own answers may lack the name: each ticket carries its visitor's.
        tickets = data.get("tickets")
        for ticket in tickets if isinstance(tickets, list) else []:
            if "name" in answers or not isinstance(ticket, dict):
                break
            answers = {**_answers(ticket.get("answers")), **answers}
        name = _name(answers.get("name"), answers.get("surname"))
        email = email or answers.get("mail") or answers.get("email")
    else:  # the legacy ticket shape
        code = data.get("status_raw")
        event_id = data.get("event_id")
        order_id = data.get("order_id", data.get("id"))
        email = data.get("email") or data.get("mail")
        name = _name(data.get("name"), data.get("surname"))
    if not isinstance(code, str) or not code:
        raise BadPayload("no status code")
    return TimepadOrder(
        order_id=_int(order_id, "order id"),
        event_id=_int(event_id, "event id"),
        email=str(email).strip().lower() if email else None,
        name=name,
        status_code=code,
    )


def parse_body(raw: bytes) -> TimepadOrder:
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        # Not JSON, a number beyond Python's digit limit, or nesting deeper than the parser
        # recurses: a body that can never be applied, however often it is retried.
        raise BadPayload(f"the body is not usable JSON ({type(exc).__name__})") from exc
    return parse_order(data)
