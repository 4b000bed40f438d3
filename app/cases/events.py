"""Event types of cases: ids and statuses only, never a case's text or its author."""

from app.core.outbox import EventData, define_event


class CaseChanged(EventData):
    event_id: str
    status: str


class RecommendationAdded(EventData):
    case_id: str


CASE_STATUS_CHANGED = define_event(
    "case.status_changed",
    subject_type="case",
    data=CaseChanged,
    description="A case moved in its lifecycle (submitted, accepted, declined, scheduled, "
    "discussed, outcome reported, withdrawn).",
)
RECOMMENDATION_CREATED = define_event(
    "recommendation.created",
    subject_type="recommendation",
    data=RecommendationAdded,
    description="A table member or facilitator gave a case a recommendation.",
)
# Internal: moves an e-mail (the outcome loop), never offered to webhook subscribers.
OUTCOME_REQUESTED = define_event(
    "case.outcome_requested",
    subject_type="case",
    data=CaseChanged,
    description="Two weeks after the event, the author of a discussed case is asked for its "
    "outcome.",
    internal=True,
)
