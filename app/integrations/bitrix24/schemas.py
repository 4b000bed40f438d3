"""Shapes of the Bitrix24 admin API: sync runs and their reports."""

import uuid
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from app.core.schemas import ReadSchema, UTCTimestamp

# Lists in a report are cut here (the counts stay exact): a report stays a small document.
REPORT_LIST_LIMIT = 500


class SyncKind(StrEnum):
    full_sync = "full_sync"
    reconcile = "reconcile"


class MemberFailure(BaseModel):
    member_id: uuid.UUID
    error: str = Field(description="The portal's code, HTTP status and description.")


class FullSyncReport(BaseModel):
    kind: Literal["full_sync"] = "full_sync"
    members_seen: int = 0
    created: int = Field(0, description="Contacts created in the CRM.")
    linked: int = Field(0, description="Existing contacts found (by e-mail or our id) and linked.")
    updated: int = Field(0, description="Linked contacts sent the fields that changed.")
    unchanged: int = Field(0, description="Members whose CRM fields did not change: no call.")
    deleted: int = Field(0, description="Contacts of erased members removed from the CRM.")
    skipped_erased: int = Field(0, description="Erased members never synced: nothing to do.")
    failed: int = Field(0, description="Members the CRM refused; see error_codes.")
    error_codes: dict[str, int] = Field(default_factory=dict)
    failures: list[MemberFailure] = Field(
        default_factory=list, description="The first 100 members the CRM refused, and why."
    )
    requests: int = Field(0, description="HTTP requests made to Bitrix24.")
    retries: int = 0


class LinkBroken(BaseModel):
    member_id: uuid.UUID
    crm_id: int


class FieldDifference(BaseModel):
    member_id: uuid.UUID
    crm_id: int
    fields: list[str] = Field(description="CRM field names that differ (never their values).")


class ReconcileReport(BaseModel):
    kind: Literal["reconcile"] = "reconcile"
    members: int = 0
    contacts_in_crm: int = Field(0, description="Contacts carrying our ORIGINATOR_ID.")
    in_sync: int = 0
    missing_in_crm_count: int = 0
    missing_in_crm: list[uuid.UUID] = Field(
        default_factory=list, description="Members with no linked contact."
    )
    link_broken_count: int = 0
    link_broken: list[LinkBroken] = Field(
        default_factory=list, description="Links whose contact no longer exists in the CRM."
    )
    missing_here_count: int = 0
    missing_here: list[int] = Field(
        default_factory=list,
        description="CRM ids of contacts marked as ours that no member is linked to.",
    )
    erased_still_linked: list[uuid.UUID] = Field(default_factory=list)
    field_differences_count: int = 0
    field_differences: list[FieldDifference] = Field(default_factory=list)
    requests: int = 0


class SyncRunRead(ReadSchema):
    id: uuid.UUID
    kind: SyncKind
    status: Literal["requested", "done", "failed"]
    requested_by: uuid.UUID | None
    requested_at: UTCTimestamp
    next_attempt_at: UTCTimestamp
    attempts: int
    started_at: UTCTimestamp | None
    finished_at: UTCTimestamp | None
    error: str | None = Field(description="Why the last attempt failed (an error code).")
    report: Annotated[FullSyncReport | ReconcileReport, Field(discriminator="kind")] | None = Field(
        description="Set once the run is done."
    )


class EventAccepted(ReadSchema):
    status: str = Field(
        description="`accepted` (stored, applied by the worker) or `duplicate` (stored before)"
    )


class CrmFailure(ReadSchema):
    """A change the CRM refused for good (the live sync): what, whose, and the portal's
    words. Redeliver it from the delivery log once the cause is fixed."""

    delivery_id: uuid.UUID
    event_type: str
    subject_type: str
    subject_id: uuid.UUID = Field(description="The member, application or registration.")
    attempts: int
    error: str | None
    last_attempt_at: UTCTimestamp | None
