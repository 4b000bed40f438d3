"""The event types of applications: thin payloads, never personal data or free text."""

from typing import Literal

from app.core.outbox import EventData, define_event


class ApplicationSubmitted(EventData):
    status: Literal["submitted", "in_review"]
    imported: bool


class ApplicationDecided(EventData):
    status: Literal["approved", "rejected", "waitlisted"]
    decided_by: Literal["rule", "admin"]


class ApplicationWithdrawn(EventData):
    pass


class ApplicationEscalated(EventData):
    escalation: Literal["grey_band", "disagreement"]


SUBMITTED = define_event(
    "application.submitted",
    subject_type="application",
    data=ApplicationSubmitted,
    description="An application was submitted (or imported) and goes to the expert council.",
)
DECIDED = define_event(
    "application.decided",
    subject_type="application",
    data=ApplicationDecided,
    description="An application was approved, rejected or waitlisted, by the rule or an admin.",
)
WITHDRAWN = define_event(
    "application.withdrawn",
    subject_type="application",
    data=ApplicationWithdrawn,
    description="The applicant withdrew their application before a decision.",
)
ESCALATED = define_event(
    "application.escalated",
    subject_type="application",
    data=ApplicationEscalated,
    description="The decision rule handed an application to an admin (grey band or "
    "disagreement between reviewers).",
)
