"""The decision rule at its edges, and reviewer statistics (pure)."""

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.applications.decision import Rule, Verdict, evaluate, weighted_score
from app.reviews.blind import redact
from app.reviews.stats import Scored, normalised_scores, reviewer_figures

RULE = Rule(quorum=3, approve_at=3.5, reject_below=2.5, disagreement_limit=2.0)


@pytest.mark.parametrize(
    "scores,verdict",
    [
        ([], Verdict.pending),
        ([5.0, 5.0], Verdict.pending),  # one short of the quorum
        ([3.5, 3.5, 3.5], Verdict.approve),  # exactly at the threshold approves
        ([3.49, 3.5, 3.5], Verdict.grey_band),
        ([2.5, 2.5, 2.5], Verdict.grey_band),  # the lower edge belongs to the grey band
        ([2.49, 2.5, 2.5], Verdict.reject),
        ([1.0, 1.0, 1.0], Verdict.reject),
        ([3.0, 5.0, 5.0], Verdict.approve),  # spread exactly at the limit is no disagreement
        ([2.9, 5.0, 5.0], Verdict.disagreement),
        ([1.0, 1.0, 3.01], Verdict.disagreement),  # disagreement wins even when the mean rejects
        ([4.0, 4.0, 4.0, 4.0], Verdict.approve),  # reviews beyond the quorum count too
    ],
)
def test_rule_edges(scores, verdict):
    assert evaluate(RULE, scores).verdict == verdict


def test_rule_is_validated():
    with pytest.raises(ValueError):
        Rule(quorum=0, approve_at=3, reject_below=2, disagreement_limit=1)
    with pytest.raises(ValueError):
        Rule(quorum=1, approve_at=2, reject_below=3, disagreement_limit=1)


def test_weighted_score():
    weights = {"a": 0.5, "b": 0.25, "c": 0.25}
    assert weighted_score({"a": 5, "b": 1, "c": 3}, weights) == pytest.approx(3.5)
    with pytest.raises(ValueError):
        weighted_score({"a": 5}, weights)


@given(st.lists(st.floats(1, 5), min_size=3, max_size=8))
def test_outcome_is_total_and_consistent(scores):
    outcome = evaluate(RULE, scores)
    assert outcome.verdict != Verdict.pending
    if outcome.verdict == Verdict.approve:
        assert outcome.mean >= RULE.approve_at and outcome.spread <= RULE.disagreement_limit
    if outcome.verdict == Verdict.reject:
        assert outcome.mean < RULE.reject_below


def test_harshness_and_normalised_scores():
    a, b = uuid.uuid4(), uuid.uuid4()
    lenient, harsh, fair = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    rows = [
        Scored(a, lenient, 5.0),
        Scored(a, harsh, 2.0),
        Scored(a, fair, 3.5),
        Scored(b, lenient, 4.0),
        Scored(b, harsh, 1.0),
        Scored(b, fair, 2.5),
    ]
    figures = reviewer_figures(rows)
    assert figures[harsh].harshness < 0 < figures[lenient].harshness
    assert figures[fair].harshness == pytest.approx(0.0)
    assert figures[lenient].mean_score == pytest.approx(4.5)
    normalised = normalised_scores(rows)
    # Each reviewer's bias taken out, the two applications keep their distance.
    assert normalised[a] - normalised[b] == pytest.approx(1.0)


def test_single_review_says_nothing_about_harshness():
    reviewer = uuid.uuid4()
    figures = reviewer_figures([Scored(uuid.uuid4(), reviewer, 4.0)])
    assert figures[reviewer].harshness is None and figures[reviewer].reviews == 1


@pytest.mark.parametrize(
    "text,gone",
    [
        ("mail me at ivan.petrov@mail.ru today", "ivan.petrov@mail.ru"),
        ("see https://linkedin.com/in/ivan", "linkedin.com/in/ivan"),
        ("my site www.ivan.dev", "www.ivan.dev"),
        ("call +7 (915) 123-45-67", "123-45-67"),
        ("telegram @ivan_petrov", "@ivan_petrov"),
        ("I am Ivan Petrov", "Petrov"),
    ],
)
def test_redact(text, gone):
    assert gone not in redact(text, names=("Ivan Petrov",))


def test_redact_keeps_numbers_that_are_not_phones():
    text = "Led 120 people since 2015, budget 3.5 bn"
    assert redact(text) == text
