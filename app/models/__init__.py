"""Every table, imported here so SQLModel and Alembic see one complete metadata."""

from app.models.application import Application, DecisionRuleRow
from app.models.audit import AuditEntry
from app.models.crm import CrmLink, CrmSyncRun
from app.models.idempotency import IdempotencyRecord
from app.models.member import ConsentChange, Member, MemberRole
from app.models.outbox import OutboxEvent
from app.models.review import Review, ReviewAssignment, RubricCriterion
from app.models.token import ApiToken, LoginFailure, RefreshToken
from app.models.webhook import Delivery, DeliveryAttempt, WebhookSubscription

__all__ = [
    "ApiToken",
    "Application",
    "AuditEntry",
    "ConsentChange",
    "Delivery",
    "DeliveryAttempt",
    "DecisionRuleRow",
    "CrmLink",
    "CrmSyncRun",
    "IdempotencyRecord",
    "LoginFailure",
    "Member",
    "MemberRole",
    "OutboxEvent",
    "RefreshToken",
    "WebhookSubscription",
    "Review",
    "ReviewAssignment",
    "RubricCriterion",
]
