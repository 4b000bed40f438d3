"""Rounds in the solver: every round keeps every rule, the lower bound is a true bound, the
designs meet everyone once, and the command line answers round by round."""

import itertools
import json
import math
import subprocess
import sys
from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.tables.seating.designs import affine_plane_rounds
from app.tables.seating.fields import finite_field, prime_power
from app.tables.seating.model import Attendee, Instance, Meeting, Weights
from app.tables.seating.rounds import (
    case_rounds,
    repeat_lower_bound,
    repeated_pairs,
    round_violations,
)
from app.tables.seating.rules import table_count
from app.tables.seating.solver import solve_rounds
from tests.tables.test_seating_solver import instances


@st.composite
def round_instances(draw: st.DrawFn, max_people: int = 9) -> Instance:
    instance = draw(instances(max_people))
    return replace(
        instance,
        rounds=draw(st.integers(1, 4)),
        facilitators_stay=draw(st.booleans()),
        max_moves=3_000,
    )


def plan_of(result) -> list[list[list[str]]]:
    return [[list(t.attendees) for t in tables] for tables in result.rounds]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(round_instances())
def test_every_round_of_every_plan_keeps_every_rule(instance: Instance) -> None:
    result = solve_rounds(instance)
    assert result.status in {"ok", "infeasible", "not_found"}
    if result.status != "ok":
        return
    plan = plan_of(result)
    assert len(plan) == instance.rounds
    assert round_violations(instance, plan, dict(result.case_rounds)) == []
    assert result.metrics is not None and result.metrics.hard_violations == 0
    assert result.metrics.repeated_pairs == repeated_pairs(instance, plan)
    assert 0 <= result.lower_bound <= result.metrics.repeated_pairs
    assert result.gap == result.metrics.repeated_pairs - result.lower_bound


@settings(max_examples=40, deadline=None)
@given(round_instances(max_people=30))
def test_larger_instances_keep_the_rules_in_every_round_too(instance: Instance) -> None:
    result = solve_rounds(instance)
    if result.status == "ok":
        assert round_violations(instance, plan_of(result), dict(result.case_rounds)) == []


BRUTE_FORCE_PLANS = 20_000


def valid_rounds(instance: Instance) -> list[list[list[list[str]]]]:
    """For each round of ``instance``, every seating of it that keeps the rules on its own
    (tiny instances only): the brute force's material."""
    ids = [p.id for p in instance.attendees]
    count = table_count(instance)
    cases = case_rounds(instance)
    one_round = replace(instance, rounds=1)
    per_round = []
    for number in range(1, instance.rounds + 1):
        its_cases = {m: 1 for m, r in cases.items() if r == number}
        valid = []
        for assignment in itertools.product(range(count), repeat=len(ids)):
            tables: list[list[str]] = [[] for _ in range(count)]
            for member, table in zip(ids, assignment, strict=True):
                tables[table].append(member)
            if not round_violations(one_round, [tables], its_cases):
                valid.append(tables)
        per_round.append(valid)
    return per_round


def brute_force_fewest_repeats(instance: Instance) -> int | None:
    """The fewest repeated pairs over every plan keeping the rules (tiny instances only)."""
    cases = case_rounds(instance)
    per_round = valid_rounds(instance)
    if math.prod(len(valid) for valid in per_round) > BRUTE_FORCE_PLANS:
        return None  # too many to try within a test's patience
    best = None
    for plan in itertools.product(*per_round):
        if round_violations(instance, list(plan), cases):
            continue  # a facilitator who was to stay moved
        repeats = repeated_pairs(instance, plan)
        best = repeats if best is None else min(best, repeats)
    return best


@st.composite
def tiny_instances(draw: st.DrawFn) -> Instance:
    n = draw(st.integers(2, 6))
    people = tuple(
        Attendee(
            id=f"m{i}",
            company=draw(st.sampled_from([None, None, "Acme", "Beta"])),
            facilitator=draw(st.booleans()),
        )
        for i in range(n)
    )
    pairs = list(itertools.combinations([p.id for p in people], 2))
    history = tuple(Meeting(a, b) for a, b in draw(st.lists(st.sampled_from(pairs), max_size=4)))
    keep_apart = tuple(draw(st.lists(st.sampled_from(pairs), max_size=2)))
    return Instance(
        table_size=draw(st.integers(2, 3)),
        attendees=people,
        history=history,
        keep_apart=keep_apart,
        rounds=draw(st.integers(1, 3)),
        facilitators_stay=draw(st.booleans()),
    )


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_instances())
def test_the_lower_bound_never_exceeds_the_true_optimum(instance: Instance) -> None:
    optimum = brute_force_fewest_repeats(instance)
    if optimum is not None:
        assert repeat_lower_bound(instance) <= optimum


def test_the_bound_counts_colleagues_facilitators_and_history() -> None:
    # 64 at 8 tables for 9 rounds: everyone meets everyone once at best.
    free = Instance(table_size=8, attendees=tuple(Attendee(f"m{i}") for i in range(64)), rounds=9)
    assert repeat_lower_bound(free) == 0
    # 8 companies of 8 and one facilitator in each: 7 colleagues and 7 facilitators (for a
    # facilitator) can never be met, so each round beyond the 8th repeats whole tables.
    ruled = replace(
        free,
        attendees=tuple(
            Attendee(f"m{i}", company=f"C{i % 8}", facilitator=i < 8) for i in range(64)
        ),
    )
    assert repeat_lower_bound(ruled) == 252
    # Two people who met, seated together in the only table: one repeat.
    pair = Instance(
        table_size=2, attendees=(Attendee("a"), Attendee("b")), history=(Meeting("a", "b"),)
    )
    assert repeat_lower_bound(pair) == 1


def test_small_fields_are_fields() -> None:
    for q in (2, 3, 4, 5, 7, 8, 9, 16):
        field = finite_field(q)
        elements = range(q)
        for a, b in itertools.product(elements, repeat=2):
            assert field.add[a][b] == field.add[b][a] and field.mul[a][b] == field.mul[b][a]
        for a in elements:
            assert field.add[a][0] == a and field.mul[a][1] == a
            assert any(field.add[a][b] == 0 for b in elements)
            if a:
                assert any(field.mul[a][b] == 1 for b in elements)  # an inverse
        for a, b, c in itertools.product(elements, repeat=3):
            assert field.mul[a][field.add[b][c]] == field.add[field.mul[a][b]][field.mul[a][c]]
    assert prime_power(12) is None and prime_power(6) is None and prime_power(27) == (3, 3)


def test_the_affine_plane_meets_everyone_exactly_once() -> None:
    for q in (2, 3, 4, 5, 7, 8, 9):
        rounds = affine_plane_rounds(q)
        assert len(rounds) == q + 1
        met: set[frozenset[int]] = set()
        for tables in rounds:
            assert sorted(p for t in tables for p in t) == list(range(q * q))
            for table in tables:
                assert len(table) == q
                for pair in itertools.combinations(table, 2):
                    assert frozenset(pair) not in met
                    met.add(frozenset(pair))
        assert len(met) == q * q * (q * q - 1) // 2


def test_64_people_over_9_rounds_never_meet_twice() -> None:
    instance = Instance(
        table_size=8, attendees=tuple(Attendee(f"m{i:02d}") for i in range(64)), rounds=9
    )
    result = solve_rounds(instance)
    assert result.status == "ok" and result.start == "affine_plane"
    assert result.metrics is not None and result.metrics.repeated_pairs == 0
    assert result.lower_bound == 0 and result.gap == 0
    assert round_violations(instance, plan_of(result)) == []


def test_companies_and_staying_facilitators_hold_in_every_round() -> None:
    people = tuple(
        Attendee(f"m{i:02d}", company=f"C{i % 8}", facilitator=i < 8, has_case=8 <= i < 20)
        for i in range(64)
    )
    instance = Instance(
        table_size=8, attendees=people, rounds=4, facilitators_stay=True, max_moves=20_000
    )
    result = solve_rounds(instance)
    assert result.status == "ok"
    plan = plan_of(result)
    cases = dict(result.case_rounds)
    assert round_violations(instance, plan, cases) == []
    assert sorted(cases) == [f"m{i:02d}" for i in range(8, 20)] and set(cases.values()) == {
        1,
        2,
        3,
        4,
    }
    for facilitator in (f"m{i:02d}" for i in range(8)):
        homes = {next(t for t, m in enumerate(tables) if facilitator in m) for tables in plan}
        assert len(homes) == 1


def test_a_facilitator_who_moves_breaks_the_stay_rule() -> None:
    instance = Instance(
        table_size=2,
        attendees=(Attendee("f1", facilitator=True), Attendee("f2", facilitator=True)),
        tables=2,
        rounds=2,
        facilitators_stay=True,
    )
    broken = round_violations(instance, [[["f1"], ["f2"]], [["f2"], ["f1"]]])
    assert {(number, v.rule) for number, v in broken} == {(2, "facilitator_stays")}
    assert round_violations(instance, [[["f1"], ["f2"]]])[0][1].rule == "rounds"


def test_the_same_seed_gives_the_same_rounds() -> None:
    people = tuple(Attendee(f"m{i:02d}", function=f"F{i % 4}", seniority=i % 5) for i in range(30))
    instance = Instance(table_size=6, attendees=people, rounds=3, seed=4, max_moves=10_000)
    assert plan_of(solve_rounds(instance)) == plan_of(solve_rounds(instance))


def test_among_equal_plans_frequent_attendees_keep_their_unmet_pairs() -> None:
    # Two regulars and two newcomers at two tables of two: every plan is as good on every
    # other goal, and the one seating each regular with a newcomer saves the regulars' pair.
    people = (
        Attendee("regular1", attendance=1.0),
        Attendee("regular2", attendance=0.9),
        Attendee("new1"),
        Attendee("new2"),
    )
    for seed in range(5):
        for rounds in (1, 2):
            instance = Instance(table_size=2, attendees=people, seed=seed, rounds=rounds)
            result = solve_rounds(instance)
            first = plan_of(result)[0]
            assert not any({"regular1", "regular2"} <= set(t) for t in first), (seed, first)
    blind = Instance(
        table_size=2, attendees=people, weights=Weights(season=0.0), rounds=3, max_moves=2_000
    )
    assert solve_rounds(blind).status == "ok"


def run_cli(payload: object, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.tables.seating", *arguments],
        check=False,
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_command_line_plans_rounds() -> None:
    payload = {
        "table_size": 3,
        "seed": 1,
        "attendees": [
            {"id": f"p{i}", "company": "Acme" if i < 3 else None, "facilitator": i in (3, 4, 5)}
            for i in range(9)
        ],
    }
    done = run_cli(payload, "--rounds", "3")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["status"] == "ok" and [r["round"] for r in answer["rounds"]] == [1, 2, 3]
    for entry in answer["rounds"]:
        tables = [set(t["attendees"]) for t in entry["tables"]]
        assert set().union(*tables) == {f"p{i}" for i in range(9)}
        assert all(len(t & {"p0", "p1", "p2"}) <= 1 for t in tables)
        assert all(len(t & {"p3", "p4", "p5"}) == 1 for t in tables)
    assert answer["tables"] == answer["rounds"][0]["tables"]
    assert answer["lower_bound"] <= answer["metrics"]["repeated_pairs"]
    assert answer["gap"] == answer["metrics"]["repeated_pairs"] - answer["lower_bound"]
    one = json.loads(run_cli(payload, "--rounds", "1").stdout)
    assert len(one["rounds"]) == 1 and one["rounds"][0]["tables"] == one["tables"]
    bad = run_cli(payload, "--rounds", "13")
    assert bad.returncode == 2 and "1 to 12 rounds" in bad.stderr


def test_the_bound_is_reached_where_brute_force_can_tell() -> None:
    # Four people in pairs: three rounds meet everyone once; a fourth repeats both pairs.
    people = tuple(Attendee(f"m{i}") for i in range(4))
    for rounds, fewest in ((3, 0), (4, 2)):
        instance = Instance(table_size=2, attendees=people, rounds=rounds)
        assert brute_force_fewest_repeats(instance) == fewest == repeat_lower_bound(instance)
        result = solve_rounds(replace(instance, max_moves=2_000))
        assert result.metrics is not None and result.metrics.repeated_pairs == fewest
