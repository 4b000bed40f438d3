"""The event types of reviews: ids only, never who reviewed or what they wrote."""

import uuid

from app.core.outbox import EventData, define_event


class ReviewSubmitted(EventData):
    application_id: uuid.UUID


SUBMITTED = define_event(
    "review.submitted",
    subject_type="review",
    data=ReviewSubmitted,
    description="A reviewer submitted their review of an application.",
)
