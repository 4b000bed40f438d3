"""Domain events: the catalogue of event types and `emit`, which writes one to the outbox.

Domains declare their event types next to their services (``define_event``) and call
``emit`` inside the transaction of the change, so an event exists if and only if the change
committed. Consumers (webhooks, e-mail, the CRM sync) read the outbox; domains never import them.

Event names are a published contract: once released, a name never changes. A payload change
that could break a consumer is a new ``version`` of the same name.
"""

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Insert, bindparam, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from app.models.base import utcnow
from app.models.outbox import OutboxEvent

EVENT_NAME_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$"


class EventData(BaseModel):
    """The thin payload of an event: the resource's id and version and a small summary.

    Only what a public reader of the resource could see belongs here (consumers outside the
    community receive it): never a private profile field, a secret or free text a member wrote.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: uuid.UUID
    version: int


D = TypeVar("D", bound=EventData)


@dataclass(frozen=True)
class EventType(Generic[D]):
    name: str
    version: int
    subject_type: str
    data: type[D]
    description: str
    # An internal event moves work inside the product (an e-mail to send) and is never
    # offered to webhook subscribers: it is absent from the public catalogue.
    internal: bool = False

    def json_schema(self) -> dict[str, Any]:
        return self.data.model_json_schema()


class Catalogue:
    """The declared event types by name. The application has one (``CATALOGUE``)."""

    def __init__(self) -> None:
        self._types: dict[str, EventType[Any]] = {}

    def define(
        self,
        name: str,
        *,
        subject_type: str,
        data: type[D],
        description: str,
        version: int = 1,
        internal: bool = False,
    ) -> EventType[D]:
        """Declare an event type once, at import time. A second declaration is a bug."""
        if not re.match(EVENT_NAME_PATTERN, name):
            raise ValueError(f"event name {name!r} is not dotted lower snake case")
        if name in self._types:
            raise ValueError(f"event type {name!r} is declared twice")
        event_type = EventType(
            name=name,
            version=version,
            subject_type=subject_type,
            data=data,
            description=description,
            internal=internal,
        )
        self._types[name] = event_type
        return event_type

    def all(self) -> list[EventType[Any]]:
        """Every public event type, by name (the declaring modules must be imported)."""
        return [self._types[name] for name in sorted(self._types) if not self._types[name].internal]

    def named(self, name: str) -> EventType[Any] | None:
        """A public event type by name; internal ones are unknown to the outside."""
        found = self._types.get(name)
        return None if found is None or found.internal else found

    def is_internal(self, name: str) -> bool:
        found = self._types.get(name)
        return found is not None and found.internal


CATALOGUE = Catalogue()
define_event = CATALOGUE.define


def announcement(
    event_type: EventType[D], data: D, *, occurred_at: datetime | None = None
) -> dict[str, Any]:
    """The outbox row of an event as column values: for a statement that writes the change and
    its event at once (``emit`` adds the same row through the session)."""
    if not isinstance(data, event_type.data):
        raise TypeError(f"{event_type.name} expects {event_type.data.__name__}")
    return {
        "id": uuid.uuid4(),
        "type": event_type.name,
        "type_version": event_type.version,
        "occurred_at": occurred_at or utcnow(),
        "subject_type": event_type.subject_type,
        "subject_id": data.id,
        "data": data.model_dump(mode="json"),
    }


def emit(
    session: AsyncSession,
    event_type: EventType[D],
    data: D,
    *,
    occurred_at: datetime | None = None,
) -> OutboxEvent:
    """Add the event to the caller's transaction. Nothing is sent here: the relay does that
    after commit, so a rolled-back change never announces itself."""
    row = OutboxEvent(**announcement(event_type, data, occurred_at=occurred_at))
    session.add(row)
    return row


OUTBOX = OutboxEvent.metadata.tables[OutboxEvent.__tablename__]
# ``announcement``'s row on its own (where a CTE cannot carry it: SQLite).
INSERT = insert(OUTBOX)
# The columns of ``announcement`` but the subject, each a parameter named ``outbox_<column>``.
_ANNOUNCED_COLUMNS = ("id", "type", "type_version", "occurred_at", "subject_type", "data")


def insert_for(subject_id: ColumnElement[Any]) -> Insert:
    """An INSERT of the outbox row whose subject is ``subject_id``, a column of a CTE that
    returned the changed row (PostgreSQL): the event is written if and only if the change was,
    in the change's own statement. Its parameters are ``announcement``'s, through ``params``."""
    values = [bindparam(f"outbox_{name}", type_=OUTBOX.c[name].type) for name in _ANNOUNCED_COLUMNS]
    return insert(OUTBOX).from_select(
        [*_ANNOUNCED_COLUMNS, "subject_id"], select(*values, subject_id)
    )


def params(announced: dict[str, Any]) -> dict[str, Any]:
    """``announcement``'s values as the parameters of an ``insert_for`` statement."""
    return {f"outbox_{name}": announced[name] for name in _ANNOUNCED_COLUMNS}
