"""The hindsight annealer of ``bench.season_hindsight`` on a tiny season: its plans keep the
rules, its count is the true count, it never ends worse than it starts, the same seed gives
the same plans, and no plans beat the season's lower bound."""

import random
from collections import Counter

from app.tables.seating.model import Attendee, Instance
from app.tables.seating.rounds import case_rounds, round_violations, season_lower_bound
from bench.season_hindsight import Season, hindsight, repeats_event_after_event

MOVES = 20_000


def tiny_season() -> list[Instance]:
    """Three events of 12 to 16 of 20 members at tables of 4, two rounds each; two
    colleagues, three facilitators and a few cases among them."""
    rng = random.Random(7)
    community = [
        Attendee(
            id=f"m{i:02d}",
            company="Acme" if i < 2 else None,
            facilitator=i >= 17,
            has_case=i % 5 == 3,
        )
        for i in range(20)
    ]
    events = []
    for number, size in enumerate((12, 14, 16)):
        attendees = sorted(rng.sample(community, size), key=lambda a: a.id)
        # Both colleagues at every event, so the rule binds.
        for colleague in community[:2]:
            if colleague not in attendees:
                attendees[-1] = colleague
                attendees.sort(key=lambda a: a.id)
        events.append(Instance(table_size=4, attendees=tuple(attendees), seed=number, rounds=2))
    return events


def recount(plans: list[list[list[list[str]]]]) -> int:
    seatings: Counter[tuple[str, str]] = Counter()
    for plan in plans:
        for tables in plan:
            for members in tables:
                for a in members:
                    for b in members:
                        if a < b:
                            seatings[a, b] += 1
    return sum(times - 1 for times in seatings.values())


def test_the_annealed_season_keeps_the_rules_and_counts_its_repeats_truly() -> None:
    events = tiny_season()
    assert any(len(e.attendees) % 4 for e in events)  # sizes differ: moves, not only swaps
    result = hindsight(events, seed=3, moves=MOVES)
    for event, plan in zip(events, result.plans, strict=True):
        assert round_violations(event, plan, case_rounds(event)) == []
    assert result.total == recount(result.plans)
    assert sum(repeats_event_after_event(events, result.plans)) == result.total
    assert result.total <= result.start_total
    assert result.total >= season_lower_bound(events)
    assert result.moves == MOVES and 0 < result.accepted <= MOVES
    assert [c.best for c in result.checkpoints] == sorted(
        (c.best for c in result.checkpoints), reverse=True
    )


def test_the_start_keeps_the_rules_and_the_count_is_its_repeats() -> None:
    events = tiny_season()
    season = Season(events)
    start = season.start(random.Random(1))
    plans = season.named(start)
    for event, plan in zip(events, plans, strict=True):
        assert round_violations(event, plan, case_rounds(event)) == []
    assert season.count(start) == recount(plans)


def test_the_same_seed_gives_the_same_plans() -> None:
    events = tiny_season()
    first = hindsight(events, seed=5, moves=MOVES)
    again = hindsight(events, seed=5, moves=MOVES)
    assert first.plans == again.plans
    assert (first.total, first.accepted) == (again.total, again.accepted)
