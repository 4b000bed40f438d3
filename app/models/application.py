"""An application to join, and the admin-editable decision rule that settles it."""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Index, String, text
from sqlmodel import Field, SQLModel

from app.models.base import JSONType, UTCDateTime, created_at_field, utcnow, uuid_pk


class ApplicationStatus(StrEnum):
    draft = "draft"
    submitted = "submitted"  # waiting for enough reviewers
    in_review = "in_review"
    approved = "approved"
    rejected = "rejected"
    waitlisted = "waitlisted"
    withdrawn = "withdrawn"


OPEN_STATUSES = (ApplicationStatus.draft, ApplicationStatus.submitted, ApplicationStatus.in_review)
DECIDED_STATUSES = (
    ApplicationStatus.approved,
    ApplicationStatus.rejected,
    ApplicationStatus.waitlisted,
)


class Escalation(StrEnum):
    """Why the rule handed an application to an admin instead of deciding."""

    grey_band = "grey_band"
    disagreement = "disagreement"


class DecidedBy(StrEnum):
    rule = "rule"
    admin = "admin"


_OPEN_SQL = "status IN ('draft', 'submitted', 'in_review')"


class Application(SQLModel, table=True):
    __tablename__ = "application"
    __table_args__ = (
        # At most one open application per person, enforced where races cannot slip past.
        Index(
            "uq_application_open_per_member",
            "member_id",
            unique=True,
            postgresql_where=text(_OPEN_SQL),
            sqlite_where=text(_OPEN_SQL),
        ),
        Index("ix_application_created_at_id", "created_at", "id"),
        Index("ix_application_status_created_at", "status", "created_at"),
        CheckConstraint("seniority IS NULL OR seniority BETWEEN 1 AND 5", name="seniority_range"),
    )

    id: uuid.UUID = uuid_pk()
    member_id: uuid.UUID = Field(foreign_key="member.id", ondelete="CASCADE", index=True)
    status: str = Field(default=ApplicationStatus.draft, sa_type=String(16))

    function: str | None = Field(default=None, sa_type=String(40))
    seniority: int | None = None
    industry: str | None = Field(default=None, sa_type=String(100))
    years_in_management: int | None = None
    team_size: int | None = None
    company: str | None = Field(default=None, sa_type=String(200))
    job_title: str | None = Field(default=None, sa_type=String(200))
    experience_summary: str | None = Field(default=None, sa_type=String(4000))
    wants: str | None = Field(default=None, sa_type=String(2000))
    gives: str | None = Field(default=None, sa_type=String(2000))
    # The texts as reviewers read them, when an admin edited the masked copy before reviews
    # started (keys experience_summary, wants, gives); the applicant's own never change.
    blind_copy: dict[str, str] | None = Field(default=None, sa_type=JSONType)
    source: str | None = Field(default=None, sa_type=String(100), index=True)
    utm_source: str | None = Field(default=None, sa_type=String(100))
    utm_medium: str | None = Field(default=None, sa_type=String(100))
    utm_campaign: str | None = Field(default=None, sa_type=String(100))
    # Consent that reviewers may see company and title, and when it was last given or taken.
    reviewers_may_see_company: bool = Field(default=False)
    company_consent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    escalation: str | None = Field(default=None, sa_type=String(16))
    decided_by: str | None = Field(default=None, sa_type=String(8))
    decision_reason: str | None = Field(default=None, sa_type=String(2000))
    imported: bool = Field(default=False)

    submitted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    withdrawn_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    version: int = Field(default=1)
    created_at: datetime = created_at_field()
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class DecisionRuleRow(SQLModel, table=True):
    """The one decision rule (id 1), edited by admins. Seeded by the migration."""

    __tablename__ = "decision_rule"
    __table_args__ = (
        CheckConstraint("id = 1", name="single_row"),
        CheckConstraint("quorum >= 1", name="quorum_positive"),
        CheckConstraint("reject_below <= approve_at", name="band_ordered"),
    )

    id: int = Field(default=1, primary_key=True)
    quorum: int = Field(default=3)
    approve_at: float = Field(default=3.5)  # weighted mean at or above: approve
    reject_below: float = Field(default=2.5)  # below: reject; in between: an admin decides
    disagreement_limit: float = Field(default=2.0)  # max - min of weighted scores above: admin
    version: int = Field(default=1)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
