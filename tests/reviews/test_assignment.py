"""Reviewer assignment, pure: no conflicts, balanced load (hypothesis)."""

import uuid

from hypothesis import given
from hypothesis import strategies as st

from app.reviews.assignment import Applicant, Candidate, assign_many, choose_reviewers

COMPANIES = st.sampled_from([None, "acme", "romashka", "globex"])


def _uuid(n: int) -> uuid.UUID:
    return uuid.UUID(int=n)


candidates_st = st.lists(
    st.tuples(st.integers(1, 10_000), COMPANIES, st.integers(0, 20)),
    max_size=25,
    unique_by=lambda t: t[0],
).map(lambda rows: [Candidate(_uuid(i), company, load) for i, company, load in rows])


@given(
    candidates_st,
    st.integers(1, 10_000),
    COMPANIES,
    st.integers(0, 8),
    st.sets(st.integers(1, 10_000), max_size=5),
)
def test_choice_respects_every_rule(candidates, applicant_n, company, count, excluded_n):
    applicant = Applicant(_uuid(applicant_n), company)
    excluded = frozenset(_uuid(n) for n in excluded_n)
    chosen = choose_reviewers(candidates, applicant, count=count, excluded=excluded)
    eligible = [
        c
        for c in candidates
        if c.id != applicant.id
        and c.id not in excluded
        and (c.company_key is None or c.company_key != company)
    ]
    assert len(chosen) == min(count, len(eligible))
    assert len({c.id for c in chosen}) == len(chosen)
    for c in chosen:
        assert c.id != applicant.id and c.id not in excluded
        assert company is None or c.company_key != company
    # Least loaded first: nobody left out carries less load than someone chosen.
    left_out = [c for c in eligible if c not in chosen]
    if chosen and left_out:
        assert max(c.load for c in chosen) <= min(c.load for c in left_out)


@given(st.integers(3, 12), st.integers(1, 60), st.integers(1, 3))
def test_bulk_assignment_keeps_load_balanced(reviewer_count, applications, k):
    candidates = [Candidate(_uuid(i), None, 0) for i in range(1, reviewer_count + 1)]
    applicants = [Applicant(_uuid(100_000 + i), None) for i in range(applications)]
    plan = assign_many(candidates, applicants, count=k)
    loads = {c.id: 0 for c in candidates}
    for chosen in plan.values():
        assert len(chosen) == min(k, reviewer_count) and len(set(chosen)) == len(chosen)
        for reviewer in chosen:
            loads[reviewer] += 1
    assert max(loads.values()) - min(loads.values()) <= 1


def test_colleague_is_skipped_even_when_idle():
    applicant = Applicant(_uuid(1), "acme")
    idle_colleague = Candidate(_uuid(2), "acme", 0)
    busy = Candidate(_uuid(3), "globex", 9)
    assert choose_reviewers([idle_colleague, busy], applicant, count=2) == [busy]
