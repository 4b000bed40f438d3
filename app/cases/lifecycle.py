"""Which status a case may move to from which (pure). Scheduling happens at publishing."""

from app.models.case import CaseStatus

S = CaseStatus
ALLOWED: dict[str, frozenset[str]] = {
    S.draft: frozenset({S.submitted, S.withdrawn}),
    S.submitted: frozenset({S.accepted, S.declined, S.withdrawn}),
    S.accepted: frozenset({S.scheduled, S.withdrawn, S.declined}),
    S.scheduled: frozenset({S.discussed, S.accepted, S.withdrawn}),
    S.discussed: frozenset({S.outcome_reported}),
    S.outcome_reported: frozenset({S.outcome_reported}),  # the author may refine the outcome
    S.withdrawn: frozenset(),
    S.declined: frozenset(),
}
# The author may still edit the text.
EDITABLE = frozenset({S.draft, S.submitted})
# Recommendations are given during and after the discussion.
ADVISABLE = frozenset({S.scheduled, S.discussed, S.outcome_reported})


def may_move(current: str, target: str) -> bool:
    return target in ALLOWED.get(current, frozenset())
