"""The seating solver: hard rules never broken, infeasibility only when real, goals met."""

import itertools
import json
import random
import subprocess
import sys
from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.tables.seating.io import InstanceIn
from app.tables.seating.model import Attendee, Instance, Meeting, Weights
from app.tables.seating.rules import violations
from app.tables.seating.solver import solve

FUNCTIONS = ["CTO", "CMO", "CFO", "CHRO", "COO"]


@st.composite
def instances(draw: st.DrawFn, max_people: int = 7) -> Instance:
    n = draw(st.integers(1, max_people))
    table_size = draw(st.integers(2, 5))
    tables = draw(st.one_of(st.none(), st.integers(1, 4)))
    people = []
    for i in range(n):
        people.append(
            Attendee(
                id=f"m{i}",
                function=draw(st.sampled_from([None, *FUNCTIONS])),
                seniority=draw(st.one_of(st.none(), st.integers(1, 5))),
                company=draw(st.sampled_from([None, "Acme", "ACME LLC", "Beta", "Gamma"])),
                facilitator=draw(st.booleans()),
                has_case=draw(st.booleans()),
                pinned_table=draw(st.one_of(st.none(), st.none(), st.integers(1, 4))),
            )
        )
    ids = [p.id for p in people]
    pairs = [(a, b) for a, b in itertools.combinations(ids, 2)]
    keep_apart = draw(st.lists(st.sampled_from(pairs), max_size=3)) if pairs else []
    history = (
        [
            Meeting(a, b, draw(st.integers(1, 3)), date(2026, draw(st.integers(1, 12)), 1))
            for a, b in draw(st.lists(st.sampled_from(pairs), max_size=6))
        ]
        if pairs
        else []
    )
    return Instance(
        table_size=table_size,
        tables=tables,
        attendees=tuple(people),
        history=tuple(history),
        keep_apart=tuple(keep_apart),
        seed=draw(st.integers(0, 10)),
        max_moves=2_000,
        time_limit_s=30,
    )


def brute_force_feasible(instance: Instance) -> bool:
    """Whether any assignment of people to tables keeps every hard rule (tiny instances)."""
    from app.tables.seating.rules import table_count

    count = table_count(instance)
    if count < 1 or count > len(instance.attendees):
        return False
    ids = [p.id for p in instance.attendees]
    for assignment in itertools.product(range(count), repeat=len(ids)):
        plan: list[list[str]] = [[] for _ in range(count)]
        for member, table in zip(ids, assignment, strict=True):
            plan[table].append(member)
        if not violations(instance, plan):
            return True
    return False


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_a_plan_never_breaks_a_hard_rule_and_infeasibility_is_real(instance: Instance) -> None:
    plan = solve(instance)
    assert plan.status in {"ok", "infeasible"}  # small instances are always settled
    if plan.status == "ok":
        seating = [list(t.attendees) for t in plan.tables]
        assert violations(instance, seating) == []
        assert plan.metrics is not None and plan.metrics.hard_violations == 0
    else:
        assert plan.infeasible is not None and plan.infeasible.rule
        assert not brute_force_feasible(instance), plan.infeasible


@settings(max_examples=60, deadline=None)
@given(instances(max_people=40))
def test_larger_random_instances_keep_the_rules_too(instance: Instance) -> None:
    plan = solve(instance)
    if plan.status == "ok":
        assert violations(instance, [list(t.attendees) for t in plan.tables]) == []


def realistic(n: int = 66, seed: int = 1) -> Instance:
    rng = random.Random(seed)
    functions = ["CTO", "CIO", "CDO", "CMO", "CFO", "COO", "CHRO", "CEO"]
    people = tuple(
        Attendee(
            id=f"p{i}",
            function=rng.choice(functions),
            seniority=rng.randint(1, 5),
            company=f"Company {i // 2}" if i < 12 else f"Solo {i}",
            facilitator=i >= n - 8,
            has_case=i % 6 == 0,
        )
        for i in range(n)
    )
    history = tuple(
        Meeting(
            f"p{rng.randrange(n)}",
            f"p{rng.randrange(n)}",
            rng.randint(1, 3),
            date(2026, rng.randint(1, 10), 1),
        )
        for _ in range(300)
    )
    return Instance(table_size=8, attendees=people, history=history, seed=7, max_moves=20_000)


def test_the_same_seed_gives_the_same_plan_and_another_seed_may_not() -> None:
    instance = realistic()
    first, again = solve(instance), solve(instance)
    assert [t.attendees for t in first.tables] == [t.attendees for t in again.tables]
    assert first.metrics is not None and again.metrics is not None
    assert first.metrics.objective == again.metrics.objective


def test_realistic_event_meets_the_goals_better_than_chance() -> None:
    instance = realistic()
    plan = solve(instance)
    assert plan.status == "ok" and plan.metrics is not None
    assert len(plan.tables) == 9
    assert sorted(len(t.attendees) for t in plan.tables) == [7, 7, 7, 7, 7, 7, 8, 8, 8]
    rng = random.Random(0)
    ids = [p.id for p in instance.attendees]
    rng.shuffle(ids)
    from app.tables.seating.scoring import evaluate

    _, chance = evaluate(instance, [ids[k::9] for k in range(9)])
    assert plan.metrics.repeated_pairs < chance.repeated_pairs
    assert plan.metrics.duplicate_function_pairs < chance.duplicate_function_pairs
    assert plan.metrics.seniority_range_mean < chance.seniority_range_mean


def test_reasons_name_the_repeat_pair_and_when_they_met() -> None:
    people = tuple(
        Attendee(id=x, function=f)
        for x, f in [("a", "CTO"), ("b", "CTO"), ("c", "CFO"), ("d", "CMO")]
    )
    # One table only: a and b must sit together, and the reasons say so.
    instance = Instance(
        table_size=4, attendees=people, history=(Meeting("a", "b", 2, date(2026, 2, 9)),)
    )
    plan = solve(instance)
    texts = [r.text for r in plan.tables[0].reasons]
    assert "repeat pair: a-b met 2026-02-09 (2 times)" in texts
    assert "2 x CTO" in texts
    assert plan.metrics is not None and plan.metrics.repeated_pairs == 1


def test_weights_change_what_the_solver_favours() -> None:
    people = tuple(
        Attendee(id=f"p{i}", function="CTO" if i < 4 else "CFO", seniority=1 if i < 4 else 5)
        for i in range(8)
    )
    # Same-function people share a seniority: mixing functions widens the seniority range.
    mixed = solve(
        Instance(table_size=4, attendees=people, weights=Weights(mixed_functions=10, seniority=0))
    )
    similar = solve(
        Instance(table_size=4, attendees=people, weights=Weights(mixed_functions=0, seniority=10))
    )
    assert mixed.metrics is not None and similar.metrics is not None
    assert mixed.metrics.duplicate_function_pairs < similar.metrics.duplicate_function_pairs
    assert similar.metrics.seniority_range_mean < mixed.metrics.seniority_range_mean


def test_infeasibility_names_the_rule_and_the_people() -> None:
    people = tuple(Attendee(id=f"p{i}", company="Acme" if i < 3 else None) for i in range(4))
    plan = solve(Instance(table_size=2, attendees=people))
    assert plan.status == "infeasible" and plan.infeasible is not None
    assert plan.infeasible.rule == "company"
    assert set(plan.infeasible.member_ids) == {"p0", "p1", "p2"}


def test_an_infeasibility_found_by_search_names_the_rule() -> None:
    # Counting proves nothing here; the exhaustive search does: a, b, c are pairwise kept
    # apart but only two tables exist.
    people = tuple(Attendee(id=x) for x in "abcd")
    plan = solve(
        Instance(table_size=2, attendees=people, keep_apart=(("a", "b"), ("b", "c"), ("a", "c")))
    )
    assert plan.status == "infeasible" and plan.infeasible is not None
    assert plan.infeasible.rule == "keep_apart"
    assert set(plan.infeasible.member_ids) == {"a", "b", "c"}


def test_facilitators_spread_one_per_table_when_enough() -> None:
    people = tuple(Attendee(id=f"p{i}", facilitator=i < 5) for i in range(16))
    plan = solve(Instance(table_size=4, attendees=people, seed=2))
    assert plan.status == "ok"
    facilitators = [sum(1 for m in t.attendees if int(m[1:]) < 5) for t in plan.tables]
    assert min(facilitators) == 1


def run_cli(payload: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.tables.seating"],
        check=False,
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_command_line_reads_an_instance_and_writes_a_plan() -> None:
    payload = {
        "table_size": 3,
        "attendees": [
            {"id": "a", "company": "Acme", "function": "CTO", "seniority": 3},
            {"id": "b", "company": "ACME LLC", "function": "CFO", "seniority": 3},
            {"id": "c", "function": "CTO", "facilitator": True},
            {"id": "d", "function": "CMO", "facilitator": True},
            {"id": "e", "function": "COO", "pinned_table": 2},
        ],
        "history": [{"a": "c", "b": "d", "times": 2, "last_met": "2026-02-09"}],
        "keep_apart": [["a", "e"]],
        "seed": 1,
        "time_limit_s": 5,
    }
    done = run_cli(payload)
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    assert plan["infeasible"] is None and plan["status"] == "ok"
    tables = {t["number"]: set(t["attendees"]) for t in plan["tables"]}
    assert "e" in tables[2] and "a" not in tables[2]
    assert not {"a", "b"} <= tables[1] and not {"c", "d"} <= tables[1]
    assert plan["metrics"]["hard_violations"] == 0
    instance = InstanceIn.model_validate(payload).to_instance()
    assert violations(instance, [t["attendees"] for t in plan["tables"]]) == []


def test_the_command_line_exits_non_zero_when_infeasible_or_invalid() -> None:
    infeasible = run_cli(
        {
            "table_size": 2,
            "tables": 1,
            "attendees": [{"id": "a", "company": "X"}, {"id": "b", "company": "x"}],
        }
    )
    assert infeasible.returncode == 1
    assert json.loads(infeasible.stdout)["infeasible"]["rule"] == "company"
    invalid = run_cli({"table_size": 2, "attendees": [{"id": "a"}, {"id": "a"}]})
    assert invalid.returncode == 2
    assert "unique" in invalid.stderr
