"""Which status a survey may move to from which (pure)."""

from app.models.survey import SurveyStatus

S = SurveyStatus
ALLOWED: dict[str, frozenset[str]] = {
    S.draft: frozenset({S.scheduled, S.open, S.closed}),
    # An admin may open a scheduled survey early.
    S.scheduled: frozenset({S.open, S.closed}),
    S.open: frozenset({S.closed}),
    # Closed is final: the results are what was answered while it was open.
    S.closed: frozenset(),
}
# Members see surveys once they open; drafts and scheduled ones are the admins'.
LISTED = (S.open, S.closed)


def may_move(current: str, target: str) -> bool:
    return target in ALLOWED.get(current, frozenset())
