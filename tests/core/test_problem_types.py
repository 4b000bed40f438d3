"""One title per problem type, and one type per title, across the whole app; every type is
documented in the OpenAPI description with its title.

A client tells errors apart by ``type``; the title is what a person reads. Two titles for one
type, or one title for two types, make the list in the contract ambiguous."""

from collections import defaultdict

import app.api  # noqa: F401  (imports every area, so every AppError subclass exists)
from app.core import idempotency
from app.core.errors import GENERIC_PROBLEMS, PROBLEM_BASE, AppError


def _subclasses(cls: type[AppError]) -> list[type[AppError]]:
    found = []
    for sub in cls.__subclasses__():
        found.append(sub)
        found.extend(_subclasses(sub))
    return found


def _problem_kinds() -> list[tuple[str, str, str]]:
    """(slug, title, where declared) for every problem the app can emit."""
    kinds = [
        (cls.slug, cls.title, f"{cls.__module__}.{cls.__qualname__}")
        for cls in [AppError, *_subclasses(AppError)]
    ]
    kinds += [(slug, title, "GENERIC_PROBLEMS") for slug, title in GENERIC_PROBLEMS.values()]
    kinds += [(slug, title, "idempotency") for slug, title in idempotency.PROBLEM_KINDS]
    return kinds


def test_the_walk_finds_every_area():
    modules = {where.rsplit(".", 2)[0] for _, _, where in _problem_kinds()}
    for area in ("app.auth", "app.applications", "app.reviews", "app.surveys", "app.tables"):
        assert any(m.startswith(area) for m in modules), area


def test_a_slug_has_one_title_and_a_title_one_slug():
    titles: defaultdict[str, set[str]] = defaultdict(set)
    slugs: defaultdict[str, set[str]] = defaultdict(set)
    where: defaultdict[str, list[str]] = defaultdict(list)
    for slug, title, declared in _problem_kinds():
        titles[slug].add(title)
        slugs[title].add(slug)
        where[slug].append(declared)
    many_titles = {s: (sorted(t), where[s]) for s, t in titles.items() if len(t) > 1}
    many_slugs = {t: sorted(s) for t, s in slugs.items() if len(s) > 1}
    assert many_titles == {}, many_titles
    assert many_slugs == {}, many_slugs


def test_every_problem_type_is_documented_with_its_title(app):
    description = app.openapi()["info"]["description"]
    for slug, title, declared in _problem_kinds():
        assert f"- `{PROBLEM_BASE}{slug}`: {title}\n" in description, declared
