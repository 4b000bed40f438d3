"""Reviewer statistics: mean score, harshness against co-reviewers, normalised scores. Pure.

Harshness is the mean z-score of a reviewer's weighted scores among the reviews of the same
applications: negative means they score below their co-reviewers. Applications with a single
review or identical scores say nothing about anyone and are skipped.
"""

import statistics
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Scored:
    application_id: uuid.UUID
    reviewer_id: uuid.UUID
    score: float


@dataclass(frozen=True, slots=True)
class ReviewerFigures:
    reviews: int
    mean_score: float | None
    harshness: float | None  # mean z-score; None without comparable reviews
    bias: float | None  # mean of (own score - co-reviewers' mean)


def _by_application(rows: Iterable[Scored]) -> dict[uuid.UUID, list[Scored]]:
    grouped: dict[uuid.UUID, list[Scored]] = defaultdict(list)
    for row in rows:
        grouped[row.application_id].append(row)
    return grouped


def reviewer_figures(rows: Iterable[Scored]) -> dict[uuid.UUID, ReviewerFigures]:
    rows = list(rows)
    own: dict[uuid.UUID, list[float]] = defaultdict(list)
    zs: dict[uuid.UUID, list[float]] = defaultdict(list)
    deltas: dict[uuid.UUID, list[float]] = defaultdict(list)
    for row in rows:
        own[row.reviewer_id].append(row.score)
    for group in _by_application(rows).values():
        if len(group) < 2:
            continue
        scores = [r.score for r in group]
        mean, spread = statistics.fmean(scores), statistics.pstdev(scores)
        for r in group:
            others = [o.score for o in group if o is not r]
            deltas[r.reviewer_id].append(r.score - statistics.fmean(others))
            if spread > 0:
                zs[r.reviewer_id].append((r.score - mean) / spread)
    return {
        reviewer: ReviewerFigures(
            reviews=len(scores),
            mean_score=statistics.fmean(scores),
            harshness=statistics.fmean(zs[reviewer]) if zs[reviewer] else None,
            bias=statistics.fmean(deltas[reviewer]) if deltas[reviewer] else None,
        )
        for reviewer, scores in own.items()
    }


def normalised_scores(rows: Iterable[Scored]) -> dict[uuid.UUID, float]:
    """Per application, the mean of its scores with each reviewer's bias taken out: a lenient
    reviewer's 5 counts less than a harsh one's."""
    rows = list(rows)
    figures = reviewer_figures(rows)
    result = {}
    for application_id, group in _by_application(rows).items():
        result[application_id] = statistics.fmean(
            r.score - (figures[r.reviewer_id].bias or 0.0) for r in group
        )
    return result
