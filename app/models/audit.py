"""The audit log: who did what to what, when and from where. Never secrets or private values."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index, String
from sqlmodel import Field, SQLModel

from app.models.base import JSONType, created_at_field, uuid_pk


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_entry"
    __table_args__ = (Index("ix_audit_entry_occurred_at_id", "occurred_at", "id"),)

    id: uuid.UUID = uuid_pk()
    occurred_at: datetime = created_at_field()
    # No foreign key: entries outlive erased members and must not block deletion.
    actor_id: uuid.UUID | None = Field(default=None, index=True)
    action: str = Field(sa_type=String(64), index=True)
    target_type: str = Field(sa_type=String(32))
    target_id: uuid.UUID | None = Field(default=None, index=True)
    client_address: str | None = Field(default=None, sa_type=String(64))
    request_id: str | None = Field(default=None, sa_type=String(64))
    details: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
