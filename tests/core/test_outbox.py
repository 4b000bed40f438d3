"""The outbox core: an event row exists iff the change committed, payloads follow their type."""

import uuid

import pytest
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.outbox import Catalogue, EventData, emit
from tests.conftest import outbox_events


class SampleData(EventData):
    title: str


CATALOGUE = Catalogue()
SAMPLE = CATALOGUE.define(
    "sample.changed", subject_type="sample", data=SampleData, description="A test event."
)


async def test_emitted_event_is_written_with_its_thin_payload(db: AsyncSession) -> None:
    subject = uuid.uuid4()
    emit(db, SAMPLE, SampleData(id=subject, version=3, title="Board"))
    await db.flush()

    [row] = await outbox_events(db, "sample.changed")
    assert row.subject_type == "sample"
    assert row.subject_id == subject
    assert row.type_version == 1
    assert row.data == {"id": str(subject), "version": 3, "title": "Board"}
    assert row.dispatched_at is None


async def test_rolled_back_change_leaves_no_event(db: AsyncSession) -> None:
    savepoint = await db.begin_nested()
    emit(db, SAMPLE, SampleData(id=uuid.uuid4(), version=1, title="Gone"))
    await db.flush()
    await savepoint.rollback()

    assert await outbox_events(db, "sample.changed") == []


def test_payload_refuses_fields_its_type_does_not_declare() -> None:
    with pytest.raises(ValidationError):
        SampleData(id=uuid.uuid4(), version=1, title="x", phone="+7 900 000-00-00")  # type: ignore[call-arg]


def test_emit_refuses_data_of_another_type(db: AsyncSession) -> None:
    class Other(EventData):
        pass

    with pytest.raises(TypeError):
        emit(db, SAMPLE, Other(id=uuid.uuid4(), version=1))  # type: ignore[arg-type]


def test_names_are_declared_once_and_follow_the_pattern() -> None:
    with pytest.raises(ValueError, match="declared twice"):
        CATALOGUE.define("sample.changed", subject_type="sample", data=SampleData, description="")
    with pytest.raises(ValueError, match="dotted"):
        CATALOGUE.define("SampleChanged", subject_type="sample", data=SampleData, description="")
    assert CATALOGUE.named("sample.changed") is SAMPLE
    assert CATALOGUE.all() == [SAMPLE]
    assert SAMPLE.json_schema()["properties"]["title"] == {"title": "Title", "type": "string"}
