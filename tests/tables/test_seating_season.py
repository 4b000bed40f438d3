"""A season of events: the hindsight lower bound of its repeated pairs never exceeds the
best any plans reach (by brute force on tiny seasons), and a season-aware event spends the
unmet pairs that are scarce first."""

import itertools
import math
from collections.abc import Sequence
from dataclasses import replace
from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.tables.seating.model import Attendee, Instance, Meeting
from app.tables.seating.rounds import (
    case_rounds,
    repeat_lower_bound,
    repeated_pairs,
    round_violations,
    season_lower_bound,
)
from app.tables.seating.solver import solve_rounds
from tests.tables.test_seating_rounds import valid_rounds

Plan = list[list[list[str]]]
BRUTE_FORCE_SEASONS = 20_000


def every_plan(instance: Instance) -> list[Plan]:
    """Every plan of ``instance`` (all its rounds) that keeps the rules."""
    cases = case_rounds(instance)
    per_round = valid_rounds(instance)
    return [
        list(plan)
        for plan in itertools.product(*per_round)
        if not round_violations(instance, list(plan), cases)
    ]


def met_in(plan: Plan) -> list[Meeting]:
    return [
        Meeting(a, b)
        for tables in plan
        for members in tables
        for i, a in enumerate(members)
        for b in members[i + 1 :]
    ]


def brute_force_season(events: Sequence[Instance], history: Sequence[Meeting]) -> int | None:
    """The fewest repeated pairs over the season, every event's plan seated against the
    history and the plans before it (None: no plan, or too many to try)."""
    options = [every_plan(event) for event in events]
    if not all(options) or math.prod(len(o) for o in options) > BRUTE_FORCE_SEASONS:
        return None
    best = None
    for plans in itertools.product(*options):
        met = list(history)
        total = 0
        for event, plan in zip(events, plans, strict=True):
            total += repeated_pairs(replace(event, history=tuple(met)), plan)
            met += met_in(plan)
        best = total if best is None else min(best, total)
    return best


@st.composite
def tiny_seasons(draw: st.DrawFn) -> tuple[list[Instance], list[Meeting]]:
    n = draw(st.integers(2, 6))
    community = [
        Attendee(
            id=f"m{i}",
            company=draw(st.sampled_from([None, None, "Acme", "Beta"])),
            facilitator=draw(st.booleans()),
        )
        for i in range(n)
    ]
    pairs = list(itertools.combinations([p.id for p in community], 2))
    history = [Meeting(a, b) for a, b in draw(st.lists(st.sampled_from(pairs), max_size=2))]
    events = []
    for _ in range(draw(st.integers(1, 3))):
        chosen = draw(
            st.lists(st.sampled_from(range(n)), min_size=2, max_size=n, unique=True).map(sorted)
        )
        events.append(
            Instance(
                table_size=draw(st.integers(2, 3)),
                attendees=tuple(community[i] for i in chosen),
                keep_apart=tuple(draw(st.lists(st.sampled_from(pairs), max_size=1))),
                rounds=draw(st.integers(1, 2)),
            )
        )
    return events, history


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_seasons())
def test_the_season_bound_never_exceeds_the_best_season(
    season: tuple[list[Instance], list[Meeting]],
) -> None:
    events, history = season
    optimum = brute_force_season(events, history)
    if optimum is not None:
        assert season_lower_bound(events, history) <= optimum


def test_the_season_bound_counts_the_regulars_among_themselves() -> None:
    # The same four people at two tables of two: three rounds at the first event meet every
    # pair once, so both pairs of the second event repeat.
    four = tuple(Attendee(f"m{i}") for i in range(4))
    events = [Instance(table_size=2, attendees=four, rounds=r) for r in (3, 1)]
    assert season_lower_bound(events) == 2 == brute_force_season(events, [])
    # Each event alone proves nothing (no event repeats within itself) ...
    assert sum(repeat_lower_bound(e) for e in events) == 0
    # ... and a pair met before the season repeats at every seating.
    once = [Instance(table_size=2, attendees=four[:2])]
    assert season_lower_bound(once, [Meeting("m0", "m1")]) == 1
    # Four regulars and a new guest at one table, two rounds at each of three events: every
    # pair's seatings beyond its first repeat, 42 in all, and the groups count all of them.
    events = [
        Instance(table_size=5, attendees=four + (Attendee(f"g{k}"),), rounds=2) for k in range(3)
    ]
    assert season_lower_bound(events) == 3 * 2 * 10 - (6 + 3 * 4) == brute_force_season(events, [])


def test_a_season_aware_event_repeats_fewer_pairs_however_often_they_met() -> None:
    # Four people at two tables of two. a and b met three times; every other pairing
    # repeats two pairs that met once. Without attendance the plan weighs the meetings (two
    # pairs met once cost less than one met three times); season-aware, a repeat is a
    # repeat, and the season counts one rather than two.
    day = date(2026, 6, 1)
    history = (
        Meeting("a", "b", 3, day),
        *(Meeting(x, y, 1, day) for x, y in (("a", "c"), ("b", "d"), ("a", "d"), ("b", "c"))),
    )
    blind = tuple(Attendee(m) for m in "abcd")
    aware = tuple(replace(p, attendance=0.5) for p in blind)
    for seed in range(3):
        for people, fewest in ((blind, 2), (aware, 1)):
            instance = Instance(
                table_size=2, attendees=people, history=history, seed=seed, reference_date=day
            )
            result = solve_rounds(instance)
            assert result.metrics is not None
            assert result.metrics.repeated_pairs == fewest, (seed, people[0].attendance)
