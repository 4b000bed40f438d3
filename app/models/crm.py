"""The CRM side of our records: which Bitrix24 object mirrors which of ours, and sync runs."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, String, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from app.models.base import JSONType, UTCDateTime, created_at_field, utcnow, uuid_pk


class CrmLink(SQLModel, table=True):
    """One of our subjects (a member, later an application or a registration) and the CRM
    object that mirrors it (a contact, lead or deal)."""

    __tablename__ = "crm_link"
    __table_args__ = (
        UniqueConstraint("subject_type", "subject_id", "crm_entity"),
        Index("ix_crm_link_crm_entity_crm_id", "crm_entity", "crm_id"),
    )

    id: uuid.UUID = uuid_pk()
    subject_type: str = Field(sa_type=String(32))
    subject_id: uuid.UUID
    crm_entity: str = Field(sa_type=String(16))
    crm_id: int = Field(sa_type=BigInteger)
    # Hashes (never the values) of the fields last sent: an unchanged subject makes no call, a
    # changed one sends only what changed, and a withdrawn consent is noticed and cleared.
    fields_hash: str = Field(sa_type=String(64))
    field_hashes: dict[str, str] = Field(default_factory=dict, sa_type=JSONType)
    synced_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    created_at: datetime = created_at_field()


class CrmSyncStatus:
    requested = "requested"
    done = "done"
    failed = "failed"


class CrmSyncRun(SQLModel, table=True):
    """An admin's request for a full sync or a reconciliation, performed by the worker (the
    CRM is never called while an API request waits), with its report."""

    __tablename__ = "crm_sync_run"
    __table_args__ = (
        # At most one pending run per kind: a second request joins the first.
        Index(
            "uq_crm_sync_run_pending_kind",
            "kind",
            unique=True,
            postgresql_where=text("status = 'requested'"),
            sqlite_where=text("status = 'requested'"),
        ),
        Index("ix_crm_sync_run_kind_requested_at", "kind", "requested_at"),
    )

    id: uuid.UUID = uuid_pk()
    kind: str = Field(sa_type=String(16))
    status: str = Field(default=CrmSyncStatus.requested, sa_type=String(16))
    requested_by: uuid.UUID | None = Field(
        default=None, foreign_key="member.id", ondelete="SET NULL"
    )
    requested_at: datetime = created_at_field()
    # Not before this time (moves forward when the CRM asks us to come back later).
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    attempts: int = Field(default=0)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    report: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    error: str | None = Field(default=None, sa_type=String(500))
