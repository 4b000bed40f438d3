"""Event types of surveys: the survey and counts; for anonymous surveys never who answered
nor which answers (not even a response id, whose timing could be matched)."""

from app.core.outbox import EventData, define_event


class SurveyChanged(EventData):
    event_id: str | None
    anonymous: bool
    status: str


class SurveyClosed(SurveyChanged):
    responses: int


class ResponseCreated(EventData):
    """``id`` is the survey's; the response and member ids only for named surveys."""

    event_id: str | None
    anonymous: bool
    response_id: str | None
    member_id: str | None


SURVEY_OPENED = define_event(
    "survey.opened",
    subject_type="survey",
    data=SurveyChanged,
    description="A survey opened; its audience is invited (by e-mail) to answer.",
)
SURVEY_REMINDED = define_event(
    "survey.reminded",
    subject_type="survey",
    data=SurveyChanged,
    description="Those of the audience who have not answered yet are reminded.",
)
SURVEY_CLOSED = define_event(
    "survey.closed",
    subject_type="survey",
    data=SurveyClosed,
    description="A survey closed: no more answers; the results are final.",
)
RESPONSE_CREATED = define_event(
    "survey.response_created",
    subject_type="survey",
    data=ResponseCreated,
    description="Someone answered a survey. For anonymous surveys the payload names "
    "neither the person nor the response.",
)
