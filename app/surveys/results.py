"""A survey's results from its answers (pure: no session, no clock).

Per question: counts, distribution and shares; mean and median of ratings; the NPS with its
promoter, passive and detractor shares; text answers. The headline: response rate and the
share satisfied on the headline rating question.

Breakdowns by table and by facilitator follow one rule, question by question: a group is shown
only with at least k answers, and what the shown groups leave over (the other tables, the
people without a table) is either nothing or again at least k answers. Otherwise the overall
figure minus the shown groups would single out the few left over, so the smallest shown groups
are withheld too. A facilitator's group is shown only when every table they led is shown, so it
adds nothing that the tables do not already give away.

For an anonymous survey the breakdowns wait until it closes (``breakdowns=False`` before): a
group read live before and after one person answers would tell what that person answered,
once it has k answers. The totals stay live; once closed, nothing changes between two reads.
"""

import random
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

RATING_SCALE = tuple(range(1, 6))
NPS_SCALE = tuple(range(0, 11))
# NPS convention: 9-10 promote, 7-8 are passive, 0-6 detract.
PROMOTER_FROM, DETRACTOR_UP_TO = 9, 6
TEXT_TYPES = frozenset({"short_text", "long_text"})


@dataclass(frozen=True)
class QuestionSpec:
    key: str
    type: str
    text: str
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class Answered:
    """One response: its answers by question key and the respondent's table, if any."""

    answers: Mapping[str, Any]
    table: int | None = None


@dataclass(frozen=True)
class Settings:
    min_group_size: int = 5
    satisfied_threshold: int = 4
    headline_question: str | None = None
    # Text answers in random order (anonymous surveys): their order says nothing.
    shuffle_texts: bool = False


@dataclass
class QuestionResult:
    key: str
    type: str
    text: str
    answered: int
    distribution: dict[str, int] = field(default_factory=dict)
    shares: dict[str, float] = field(default_factory=dict)
    mean: float | None = None
    median: float | None = None
    nps: float | None = None
    promoters: float | None = None
    passives: float | None = None
    detractors: float | None = None
    texts: list[str] | None = None


@dataclass
class GroupResult:
    key: str
    table_number: int | None
    facilitator_id: str | None
    responses: int
    questions: list[QuestionResult]


@dataclass
class Breakdown:
    groups: list[GroupResult]
    # Groups with answers that are withheld (fewer than k, or they would expose a remainder).
    withheld: int


@dataclass
class Results:
    responses: int
    audience: int
    response_rate: float | None
    headline_question: str | None
    satisfied_threshold: int
    satisfied_share: float | None
    headline_mean: float | None
    nps: float | None
    questions: list[QuestionResult]
    by_table: Breakdown
    by_facilitator: Breakdown


def _shares(counts: Mapping[str, int], total: int) -> dict[str, float]:
    return {name: count / total for name, count in counts.items()} if total else {}


def _scale(values: list[int], scale: Sequence[int]) -> dict[str, int]:
    counted = Counter(values)
    return {str(point): counted.get(point, 0) for point in scale}


def summarise(
    spec: QuestionSpec, values: list[Any], rng: random.Random | None = None
) -> QuestionResult:
    """The figures of one question from its answers (absent answers are not passed)."""
    result = QuestionResult(key=spec.key, type=spec.type, text=spec.text, answered=len(values))
    n = len(values)
    if spec.type in ("rating", "nps"):
        numbers = [int(v) for v in values]
        result.distribution = _scale(numbers, RATING_SCALE if spec.type == "rating" else NPS_SCALE)
        result.shares = _shares(result.distribution, n)
        if numbers:
            result.mean = round(statistics.fmean(numbers), 3)
            result.median = float(statistics.median(numbers))
        if spec.type == "nps" and numbers:
            promoters = sum(1 for v in numbers if v >= PROMOTER_FROM)
            detractors = sum(1 for v in numbers if v <= DETRACTOR_UP_TO)
            result.promoters, result.detractors = promoters / n, detractors / n
            result.passives = (n - promoters - detractors) / n
            result.nps = round((promoters - detractors) * 100 / n, 1)
    elif spec.type == "yes_no":
        result.distribution = {
            "yes": sum(1 for v in values if v is True),
            "no": sum(1 for v in values if v is False),
        }
        result.shares = _shares(result.distribution, n)
    elif spec.type == "single_choice":
        counted = Counter(str(v) for v in values)
        result.distribution = {option: counted.get(option, 0) for option in spec.options}
        result.shares = _shares(result.distribution, n)
    elif spec.type == "multiple_choice":
        counted = Counter(str(option) for chosen in values for option in chosen)
        result.distribution = {option: counted.get(option, 0) for option in spec.options}
        # The share of respondents who chose each option: these do not add up to one.
        result.shares = _shares(result.distribution, n)
    elif spec.type in TEXT_TYPES:
        texts = [str(v) for v in values]
        if rng is not None:
            rng.shuffle(texts)
        result.texts = texts
    return result


def _values(responses: Iterable[Answered], key: str) -> list[Any]:
    return [r.answers[key] for r in responses if r.answers.get(key) is not None]


def shown_groups(counts: Mapping[int, int], total: int, k: int) -> set[int]:
    """The groups (tables) whose figures may be shown, given each group's answer count and
    the total number of answers (which includes answers outside any group)."""
    shown = {group for group, n in counts.items() if n >= k}
    while shown:
        remainder = total - sum(counts[g] for g in shown)
        if remainder == 0 or remainder >= k:
            break
        # Withhold the smallest shown group (ties: the highest number, deterministically).
        shown.remove(min(shown, key=lambda g: (counts[g], -g)))
    return shown


def _breakdowns(
    questions: Sequence[QuestionSpec],
    responses: Sequence[Answered],
    facilitators: Mapping[int, str],
    k: int,
) -> tuple[Breakdown, Breakdown]:
    by_table: dict[int, list[Answered]] = {}
    for response in responses:
        if response.table is not None:
            by_table.setdefault(response.table, []).append(response)
    tables_of: dict[str, list[int]] = {}
    for number in by_table:
        if number in facilitators:
            tables_of.setdefault(facilitators[number], []).append(number)
    table_results: dict[int, list[QuestionResult]] = {n: [] for n in by_table}
    facilitator_results: dict[str, list[QuestionResult]] = {f: [] for f in tables_of}
    for spec in questions:
        if spec.type in TEXT_TYPES:
            continue  # free text can name its author: never broken down
        counts = {n: len(_values(rows, spec.key)) for n, rows in by_table.items()}
        shown = shown_groups(
            {n: c for n, c in counts.items() if c}, len(_values(responses, spec.key)), k
        )
        for number in sorted(shown):
            table_results[number].append(summarise(spec, _values(by_table[number], spec.key)))
        for facilitator, numbers in tables_of.items():
            answered = [n for n in numbers if counts[n]]
            if answered and all(n in shown for n in answered):
                rows = [r for n in answered for r in by_table[n]]
                facilitator_results[facilitator].append(summarise(spec, _values(rows, spec.key)))
    table_groups = [
        GroupResult(
            key=str(n),
            table_number=n,
            facilitator_id=facilitators.get(n),
            responses=len(by_table[n]),
            questions=table_results[n],
        )
        for n in sorted(by_table)
        if table_results[n]
    ]
    facilitator_groups = [
        GroupResult(
            key=f,
            table_number=None,
            facilitator_id=f,
            responses=sum(len(by_table[n]) for n in tables_of[f]),
            questions=facilitator_results[f],
        )
        for f in sorted(tables_of)
        if facilitator_results[f]
    ]
    return (
        Breakdown(table_groups, len(by_table) - len(table_groups)),
        Breakdown(facilitator_groups, len(tables_of) - len(facilitator_groups)),
    )


def headline_key(questions: Sequence[QuestionSpec], chosen: str | None) -> str | None:
    if chosen is not None:
        return chosen
    return next((q.key for q in questions if q.type == "rating"), None)


def compute(
    questions: Sequence[QuestionSpec],
    responses: Sequence[Answered],
    *,
    audience: int,
    settings: Settings,
    facilitators: Mapping[int, str] | None = None,
    rng: random.Random | None = None,
    breakdowns: bool = True,
) -> Results:
    """Everything the results page shows. ``audience`` is how many may answer;
    ``facilitators`` maps table numbers to their facilitator's id; without ``breakdowns`` every
    group is withheld (an anonymous survey still open)."""
    shuffler = (rng or random.Random()) if settings.shuffle_texts else None
    summaries = [summarise(q, _values(responses, q.key), shuffler) for q in questions]
    by_key = {s.key: s for s in summaries}
    headline = headline_key(questions, settings.headline_question)
    satisfied = mean = None
    main = by_key.get(headline) if headline else None
    if main is not None and main.answered:
        satisfied = (
            sum(
                count
                for point, count in main.distribution.items()
                if int(point) >= settings.satisfied_threshold
            )
            / main.answered
        )
        mean = main.mean
    nps = next((s.nps for s in summaries if s.type == "nps" and s.answered), None)
    # People who answered and have since left the audience still count as reached.
    reach = max(audience, len(responses))
    by_table, by_facilitator = _breakdowns(
        questions, responses, facilitators or {}, settings.min_group_size
    )
    if not breakdowns:
        by_table = Breakdown([], len(by_table.groups) + by_table.withheld)
        by_facilitator = Breakdown([], len(by_facilitator.groups) + by_facilitator.withheld)
    return Results(
        responses=len(responses),
        audience=reach,
        response_rate=len(responses) / reach if reach else None,
        headline_question=headline,
        satisfied_threshold=settings.satisfied_threshold,
        satisfied_share=satisfied,
        headline_mean=mean,
        nps=nps,
        questions=summaries,
        by_table=by_table,
        by_facilitator=by_facilitator,
    )
