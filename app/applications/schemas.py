import uuid
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from app.core.schemas import InputSchema, ReadSchema, UTCTimestamp
from app.members.schemas import ApplicationAsWritten
from app.models.application import ApplicationStatus, DecidedBy, Escalation
from app.models.member import Function

Short = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]


class ApplicationFields(InputSchema):
    """What an applicant tells the council. Every field may be left out while drafting.

    The one place of these fields' rules: the API's bodies below and the rows of an imported
    CSV file (``app.applications.csv_import.ImportedRow``) are validated by them. The reads of
    the same fields are ``app.members.schemas.ApplicationAsWritten``."""

    function: Function | None = None
    seniority: int | None = Field(default=None, ge=1, le=5)
    industry: str | None = Field(default=None, max_length=100)
    years_in_management: int | None = Field(default=None, ge=0, le=70)
    team_size: int | None = Field(default=None, ge=0, le=1_000_000)
    company: str | None = Field(default=None, max_length=200)
    job_title: str | None = Field(default=None, max_length=200)
    experience_summary: str | None = Field(default=None, max_length=4000)
    wants: str | None = Field(default=None, max_length=2000)
    gives: str | None = Field(default=None, max_length=2000)
    source: Short | None = None
    utm_source: Short | None = None
    utm_medium: Short | None = None
    utm_campaign: Short | None = None
    reviewers_may_see_company: bool | None = Field(
        default=None, description="Consent that reviewers may see company and job title."
    )

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "function": "CTO",
                    "seniority": 4,
                    "industry": "Retail",
                    "years_in_management": 9,
                    "team_size": 120,
                    "company": "Acme",
                    "job_title": "CTO",
                    "experience_summary": "Built the e-commerce platform...",
                    "wants": "Peers to test decisions on",
                    "gives": "Cloud migrations, hiring",
                    "source": "ads",
                    "utm_source": "telegram",
                    "utm_campaign": "autumn",
                    "reviewers_may_see_company": True,
                }
            ]
        }
    }


class ApplicationCreate(ApplicationFields):
    pass


class ApplicationUpdate(ApplicationFields):
    pass


class ApplicationRead(ApplicationAsWritten):
    """An application as its applicant sees it: the content, the status, the decision and its
    reason; never the reviews."""

    # Narrowed to the enums they hold (a field redeclared keeps its place in the body).
    status: ApplicationStatus
    function: Function | None
    company_consent_at: UTCTimestamp | None
    decision_reason: str | None
    submitted_at: UTCTimestamp | None
    decided_at: UTCTimestamp | None
    withdrawn_at: UTCTimestamp | None
    version: int
    created_at: UTCTimestamp
    updated_at: UTCTimestamp


class ApplicationAdminRead(ApplicationRead):
    """An application as admins see it: who applied, how it was settled, why it waits."""

    member_id: uuid.UUID
    escalation: Escalation | None
    decided_by: DecidedBy | None
    imported: bool


class DecisionCreate(InputSchema):
    status: Literal["approved", "rejected", "waitlisted"]
    reason: str = Field(min_length=1, max_length=2000)

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "status": "approved",
                    "reason": "Strong CTO track record; the grey band was close.",
                }
            ]
        }
    }


class DecisionRuleRead(ReadSchema):
    quorum: int
    approve_at: float
    reject_below: float
    disagreement_limit: float
    version: int
    updated_at: UTCTimestamp


class DecisionRuleUpdate(InputSchema):
    quorum: int = Field(
        ge=1,
        le=15,
        description="At most the reviewers assigned to each application (a setting, 3 by default).",
    )
    approve_at: float = Field(ge=1, le=5)
    reject_below: float = Field(ge=1, le=5, description="Not above `approve_at`.")
    disagreement_limit: float = Field(ge=0, le=4)

    model_config = {
        "json_schema_extra": {
            "examples": [
                {"quorum": 3, "approve_at": 3.5, "reject_below": 2.5, "disagreement_limit": 2.0}
            ]
        }
    }


class ImportRowResult(ReadSchema):
    row: int = Field(description="The line of the file, the header being line 1.")
    status: Literal["created", "updated", "unchanged", "error"]
    email: str | None
    application_id: uuid.UUID | None
    errors: list[str]


class ImportReport(ReadSchema):
    created: int
    updated: int
    unchanged: int
    errors: int
    rows: list[ImportRowResult]


class CountByKey(ReadSchema):
    key: str | None
    count: int


class ReviewerOutstanding(ReadSchema):
    reviewer_id: uuid.UUID
    outstanding: int


class FunnelStats(ReadSchema):
    total: int
    by_status: dict[str, int]
    by_source: list[CountByKey]
    by_utm_campaign: list[CountByKey]
    approval_rate: float | None = Field(description="Approved among decided applications.")
    median_hours_to_decision: float | None = Field(
        description="Median time from submission to decision, in hours."
    )
    reviews_outstanding: list[ReviewerOutstanding]
