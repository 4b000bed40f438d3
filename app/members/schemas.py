import uuid
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AnyHttpUrl, BaseModel, Field, StringConstraints

from app.auth.schemas import ApiTokenRead
from app.core.schemas import InputSchema, Keep, ReadSchema, UTCTimestamp
from app.models.case import CaseStatus, CaseVisibility
from app.models.member import Function, Language, MemberStatus, Role, Visibility

Tag = Annotated[str, StringConstraints(min_length=1, max_length=40)]
Link = Annotated[AnyHttpUrl, Field()]
Phone = Annotated[str, StringConstraints(max_length=40, pattern=r"^\+?[0-9 ()\-]{5,40}$")]


class Privacy(ReadSchema):
    """Who may see each private field: nobody (only you and admins), table (people at your
    table at events), members, or public."""

    company: Visibility
    job_title: Visibility
    phone: Visibility
    email: Visibility


class PrivacyUpdate(InputSchema):
    company: Visibility | None = None
    job_title: Visibility | None = None
    phone: Visibility | None = None
    email: Visibility | None = None


class MemberRead(ReadSchema):
    """A member as someone else sees them: private fields are null unless consent allows."""

    id: uuid.UUID
    full_name: str
    city: str | None
    function: Function | None
    seniority: int | None
    seniority_label: str | None
    industry: str | None
    expertise_tags: list[str]
    bio: str | None
    links: list[str]
    status: MemberStatus
    member_since: date | None
    company: str | None
    job_title: str | None
    phone: str | None
    email: str | None
    activated: bool | None = Field(
        default=None,
        description="Admins only (null for others): whether the person has set a password, "
        "by signing up or by accepting an invitation. Imported people start without one.",
    )


class MemberSelf(MemberRead):
    """Me, or a member as an admin sees them: every field, roles and privacy settings."""

    email_verified_at: UTCTimestamp | None = Field(
        description="When the address was proven (a verification, invitation or reset link). "
        "Until then the account may not submit an application or register for an event."
    )
    roles: list[Role]
    privacy: Privacy
    language: Language = Field(description="The language of the e-mails this member receives.")
    created_at: UTCTimestamp
    updated_at: UTCTimestamp


class MemberUpdate(InputSchema):
    full_name: Keep[str] = Field(default=None, min_length=1, max_length=200)
    phone: Phone | None = None
    city: str | None = Field(default=None, max_length=100)
    function: Function | None = None
    seniority: int | None = Field(default=None, ge=1, le=5)
    industry: str | None = Field(default=None, max_length=100)
    expertise_tags: list[Tag] | None = Field(default=None, max_length=20)
    bio: str | None = Field(default=None, max_length=2000)
    links: list[Link] | None = Field(default=None, max_length=10)
    company: str | None = Field(default=None, max_length=200)
    job_title: str | None = Field(default=None, max_length=200)
    privacy: PrivacyUpdate | None = None
    language: Keep[Language] = None

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "city": "Moscow",
                    "function": "CTO",
                    "seniority": 4,
                    "expertise_tags": ["cloud", "hiring"],
                    "company": "Acme",
                    "privacy": {"company": "members"},
                }
            ]
        }
    }


class MemberAdminUpdate(InputSchema):
    status: MemberStatus

    model_config = {"json_schema_extra": {"examples": [{"status": "paused"}]}}


class RolesUpdate(InputSchema):
    roles: list[Role] = Field(max_length=len(Role))

    model_config = {"json_schema_extra": {"examples": [{"roles": ["member", "reviewer"]}]}}


class ConsentChangeRead(ReadSchema):
    field: str
    visibility: Visibility
    changed_at: UTCTimestamp


class SessionRead(ReadSchema):
    created_at: UTCTimestamp
    expires_at: UTCTimestamp
    used_at: UTCTimestamp | None
    revoked_at: UTCTimestamp | None


class AuditEntryExport(ReadSchema):
    occurred_at: UTCTimestamp
    action: str
    target_type: str
    target_id: uuid.UUID | None
    client_address: str | None


class ApplicationAsWritten(ReadSchema):
    """What an applicant wrote in an application to join, as every read of it shows it: the
    applicant's export below and the applications API's reads (app.applications.schemas, which
    narrows the status and the function to their enums). Declared here, not with the
    applications, because the member's export needs it and members may not import the
    applications area above it. The input rules of the same fields are
    ``app.applications.schemas.ApplicationFields``."""

    id: uuid.UUID
    status: str
    function: str | None
    seniority: int | None
    industry: str | None
    years_in_management: int | None
    team_size: int | None
    company: str | None
    job_title: str | None
    experience_summary: str | None
    wants: str | None
    gives: str | None
    source: str | None
    utm_source: str | None
    utm_medium: str | None
    utm_campaign: str | None
    reviewers_may_see_company: bool


class ApplicationExport(ApplicationAsWritten):
    """An application to join, as its applicant wrote it (never the council's reviews)."""

    decision_reason: str | None
    created_at: UTCTimestamp
    submitted_at: UTCTimestamp | None
    decided_at: UTCTimestamp | None


class SurveyAnswerExport(ReadSchema):
    survey_id: uuid.UUID
    answers: dict[str, Any]
    submitted_on: str = Field(description="The day (YYYY-MM-DD).")


# The cases API reads cases in this shape too (``app.cases.schemas.CaseRead`` builds on it).
class CaseExport(BaseModel):
    """A case I brought, as I wrote it and as it went."""

    id: uuid.UUID
    event_id: uuid.UUID
    author_id: uuid.UUID
    title: str
    context: str
    question: str
    good_outcome: str
    visibility: CaseVisibility
    status: CaseStatus
    decline_reason: str | None
    table_id: uuid.UUID | None
    round: int | None = Field(None, description="The round of the event it is discussed in.")
    outcome_action: str | None
    outcome_result: str | None
    outcome_reported_at: datetime | None
    submitted_at: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime


class RecommendationExport(BaseModel):
    """Advice I gave on someone's case, with the author's rating of it."""

    id: uuid.UUID
    case_id: uuid.UUID
    author_id: uuid.UUID
    advice: str
    experience: str
    usefulness: int | None
    rated_at: datetime | None
    created_at: datetime


class MemberExport(ReadSchema):
    """Everything held about me."""

    profile: MemberSelf
    consent_history: list[ConsentChangeRead]
    api_tokens: list[ApiTokenRead]
    sessions: list[SessionRead]
    activity: list[AuditEntryExport]
    applications: list[ApplicationExport]
    cases: list[CaseExport]
    recommendations: list[RecommendationExport]
    survey_answers: list[SurveyAnswerExport] = Field(
        description="My answers to named surveys (anonymous answers are linked to nobody)."
    )


class InvitationsRequest(InputSchema):
    """Whom to invite: the listed members, or (``all_pending``) every approved member who has
    not set a password yet. Exactly one of the two."""

    member_ids: list[uuid.UUID] | None = Field(default=None, min_length=1, max_length=1000)
    all_pending: bool = False

    model_config = {
        "json_schema_extra": {
            "examples": [{"all_pending": True}, {"member_ids": ["5b0f...-uuid"]}],
        }
    }


class InvitationResult(ReadSchema):
    member_id: uuid.UUID
    sent: bool
    reason: str | None = Field(
        description="Why none was sent: `active` (has a password), `recent` (invited within "
        "the hour), `erased`."
    )


class InvitationsReport(ReadSchema):
    sent: int
    skipped: int
    results: list[InvitationResult]


class NotificationPreferences(ReadSchema):
    """Which e-mails I receive. Transactional ones (my account, my place at an event, its
    changes) are always sent; each other kind can be turned off."""

    transactional: bool = Field(
        default=True, description="Always true: e-mails about my account and my places."
    )
    reminders: bool = Field(description="Reminders before an event I am coming to.")
    next_event: bool = Field(description="The notice that the next event opened registration.")
    messages: bool = Field(description="Organisers' messages to an event's attendees.")
    surveys: bool = Field(description="Survey invitations and their reminders.")


class NotificationPreferencesUpdate(InputSchema):
    reminders: bool | None = None
    next_event: bool | None = None
    messages: bool | None = None
    surveys: bool | None = None

    model_config = {"json_schema_extra": {"examples": [{"reminders": False, "surveys": True}]}}


class UnsubscribeResult(ReadSchema):
    kind: str = Field(description="The kind of e-mail turned off.")
    preferences: NotificationPreferences
