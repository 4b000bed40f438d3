"""Every table, imported here so SQLModel and Alembic see one complete metadata."""

from app.models.application import Application, DecisionRuleRow
from app.models.audit import AuditEntry
from app.models.case import Case, Recommendation
from app.models.company import CompanyAlias
from app.models.crm import CrmLink, CrmSyncRun
from app.models.event import Event
from app.models.idempotency import IdempotencyRecord
from app.models.inbox import InboxMessage
from app.models.job import JobRun
from app.models.member import ConsentChange, Member, MemberRole
from app.models.notification import (
    CalendarFeed,
    NextEventGuest,
    NextEventRequest,
    NotificationPreference,
    RegistrationReminder,
)
from app.models.outbox import OutboxEvent
from app.models.registration import Registration, SeatHold
from app.models.review import Review, ReviewAssignment, RubricCriterion
from app.models.survey import Survey, SurveyRespondent, SurveyResponse
from app.models.table import (
    EventMessage,
    EventTable,
    SeatingKeepApart,
    SeatingPin,
    SeatingPlan,
    TableSeat,
)
from app.models.token import ApiToken, LoginFailure, RefreshToken
from app.models.webhook import Delivery, DeliveryAttempt, WebhookSubscription

__all__ = [
    "ApiToken",
    "Application",
    "AuditEntry",
    "CalendarFeed",
    "Case",
    "CompanyAlias",
    "ConsentChange",
    "CrmLink",
    "CrmSyncRun",
    "DecisionRuleRow",
    "Delivery",
    "DeliveryAttempt",
    "Event",
    "EventMessage",
    "EventTable",
    "IdempotencyRecord",
    "NextEventGuest",
    "NextEventRequest",
    "NotificationPreference",
    "RegistrationReminder",
    "InboxMessage",
    "JobRun",
    "LoginFailure",
    "Member",
    "MemberRole",
    "OutboxEvent",
    "Recommendation",
    "RefreshToken",
    "Registration",
    "Review",
    "ReviewAssignment",
    "RubricCriterion",
    "SeatHold",
    "SeatingKeepApart",
    "SeatingPin",
    "SeatingPlan",
    "Survey",
    "SurveyRespondent",
    "SurveyResponse",
    "TableSeat",
    "WebhookSubscription",
]
