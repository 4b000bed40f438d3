"""Choosing reviewers for an application. Pure: no session, no clock.

Rules: never the applicant, never someone from the applicant's company (normalised names),
never someone excluded for this application (recused, removed or already assigned); among
the rest, the least loaded first, so the council's work stays balanced. Ties break by a
stable key so the same inputs give the same choice.
"""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Candidate:
    id: uuid.UUID
    company_key: str | None  # normalize_company() of the reviewer's company
    load: int  # open assignments right now


@dataclass(frozen=True, slots=True)
class Applicant:
    id: uuid.UUID
    company_key: str | None


def is_conflicted(candidate: Candidate, applicant: Applicant) -> bool:
    if candidate.id == applicant.id:
        return True
    return candidate.company_key is not None and candidate.company_key == applicant.company_key


def eligible(
    candidates: Iterable[Candidate], applicant: Applicant, excluded: frozenset[uuid.UUID]
) -> list[Candidate]:
    return [c for c in candidates if c.id not in excluded and not is_conflicted(c, applicant)]


def choose_reviewers(
    candidates: Iterable[Candidate],
    applicant: Applicant,
    *,
    count: int,
    excluded: frozenset[uuid.UUID] = frozenset(),
) -> list[Candidate]:
    """Up to ``count`` reviewers, least loaded first; fewer when not enough are eligible."""
    if count <= 0:
        return []
    pool = eligible(candidates, applicant, excluded)
    pool.sort(key=lambda c: (c.load, c.id.int))
    return pool[:count]


def assign_many(
    candidates: Iterable[Candidate],
    applicants: Iterable[Applicant],
    *,
    count: int,
) -> dict[uuid.UUID, list[uuid.UUID]]:
    """Assign reviewers to many applications in order, each choice raising the chosen ones'
    load for the next (bulk import)."""
    loads = {c.id: c for c in candidates}
    result: dict[uuid.UUID, list[uuid.UUID]] = {}
    for applicant in applicants:
        chosen = choose_reviewers(loads.values(), applicant, count=count)
        for c in chosen:
            loads[c.id] = Candidate(c.id, c.company_key, c.load + 1)
        result[applicant.id] = [c.id for c in chosen]
    return result
