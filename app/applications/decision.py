"""The decision rule: quorum, threshold on the weighted mean, grey band, disagreement. Pure.

An application is settled by the rule once ``quorum`` reviews are in: a weighted mean at or
above ``approve_at`` approves, one below ``reject_below`` rejects, anything between goes to an
admin (grey band). Reviewers who disagree too much (max - min of their weighted scores above
``disagreement_limit``) also send it to an admin, whatever the mean says.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

SCALE_MIN, SCALE_MAX = 1, 5


@dataclass(frozen=True, slots=True)
class Rule:
    quorum: int
    approve_at: float
    reject_below: float
    disagreement_limit: float

    def __post_init__(self) -> None:
        if self.quorum < 1:
            raise ValueError("quorum must be at least 1")
        if self.reject_below > self.approve_at:
            raise ValueError("reject_below must not exceed approve_at")


class Verdict(StrEnum):
    pending = "pending"  # not enough reviews yet
    approve = "approve"
    reject = "reject"
    grey_band = "grey_band"  # an admin decides
    disagreement = "disagreement"  # an admin decides


@dataclass(frozen=True, slots=True)
class Outcome:
    verdict: Verdict
    mean: float | None
    spread: float | None

    @property
    def escalated(self) -> bool:
        return self.verdict in (Verdict.grey_band, Verdict.disagreement)


def weighted_score(scores: Mapping[str, int], weights: Mapping[str, float]) -> float:
    """The weighted mean of one review's scores over the rubric's criteria."""
    if set(scores) != set(weights):
        raise ValueError("a score is needed for exactly the rubric's criteria")
    total = sum(weights.values())
    if total <= 0:
        raise ValueError("weights must add up to more than zero")
    return sum(scores[k] * w for k, w in weights.items()) / total


def evaluate(rule: Rule, scores: Sequence[float]) -> Outcome:
    """Decide on the weighted scores of the submitted reviews."""
    if len(scores) < rule.quorum:
        return Outcome(Verdict.pending, None, None)
    mean = sum(scores) / len(scores)
    spread = max(scores) - min(scores)
    if spread > rule.disagreement_limit:
        return Outcome(Verdict.disagreement, mean, spread)
    if mean >= rule.approve_at:
        return Outcome(Verdict.approve, mean, spread)
    if mean < rule.reject_below:
        return Outcome(Verdict.reject, mean, spread)
    return Outcome(Verdict.grey_band, mean, spread)
