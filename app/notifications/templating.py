"""E-mail texts from Jinja2 templates: a text and an HTML part per e-mail, one folder a language.

Jinja2 because it is the maintained, sandbox-minded template engine of the Python world:
autoescaping for the HTML part (a name like ``<b>Eve</b>`` arrives as text, never as markup),
``StrictUndefined`` so a missing value fails instead of printing nothing, and template
inheritance for the one base layout. Babel (the CLDR data) writes dates, times and numbers as
each language does, in the event's own zone with the zone named.

Layout: ``templates/base.txt`` is the one layout (greeting, body, signature); each language's
``<lang>/_layout.txt`` words its greeting and footer, and each e-mail is ``<lang>/<name>.txt``
with a ``subject`` and a ``body`` block. The HTML part is ``templates/base.html`` filled with
the text's paragraphs, escaped, its links made clickable: the two parts cannot say different
things.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime, get_timezone_location
from babel.numbers import format_decimal
from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    Undefined,
    pass_context,
    select_autoescape,
)
from jinja2.runtime import Context

from app.models.member import Language

TEMPLATES = Path(__file__).parent / "templates"


def zone_of(name: object) -> ZoneInfo:
    try:
        return ZoneInfo(str(name))
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def local_time(moment: datetime, time_zone: str, language: str, *, weekday: bool = False) -> str:
    """``13 февраля 2027, 10:00 (Москва, GMT+03:00)``: the day, the time on the event's clock,
    and which clock that is; with ``weekday`` the day's name first (``суббота, ...``)."""
    zone = zone_of(time_zone)
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    pattern = "EEEE, d MMMM y, HH:mm" if weekday else "d MMMM y, HH:mm"
    text = format_datetime(moment, pattern, tzinfo=zone, locale=language)
    place = get_timezone_location(zone, locale=language, return_city=True)
    offset = format_datetime(moment, "ZZZZ", tzinfo=zone, locale=language)
    return f"{text} ({place}, {offset})"


@pass_context
def _when(context: Context, moment: object, weekday: bool = False) -> str:
    if isinstance(moment, Undefined):
        moment._fail_with_undefined_error()  # a missing value: UndefinedError, as anywhere
    if not isinstance(moment, datetime):
        raise TypeError(f"a date and time was expected, not {moment!r}")
    return local_time(moment, context["time_zone"], context["language"], weekday=weekday)


@pass_context
def _number(context: Context, value: object) -> str:
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    return format_decimal(value, locale=context["language"])  # type: ignore[arg-type]


def _environment(autoescape: bool) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        undefined=StrictUndefined,
        autoescape=autoescape,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.filters["number"] = _number
    return env


@cache
def environments() -> tuple[Environment, Environment]:
    """(text, html): the text parts are never escaped, the HTML parts always are."""
    html = _environment(autoescape=select_autoescape(["html"], default_for_string=True))  # type: ignore[arg-type]
    return _environment(autoescape=False), html


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


SIGNATURE = "\n-- \n"


def template_names() -> list[str]:
    """Every e-mail there is a template for (in the Russian folder, which leads)."""
    return sorted(p.stem for p in (TEMPLATES / "ru").glob("*.txt") if not p.name.startswith("_"))


def _paragraphs(text: str) -> list[list[str]]:
    blocks = [block.strip("\n") for block in text.strip().split("\n\n")]
    return [block.splitlines() for block in blocks if block.strip()]


def render(name: str, language: Language, values: dict[str, Any]) -> Rendered:
    text_env, html_env = environments()
    values = {"time_zone": "UTC", **values, "language": language.value}
    template = text_env.get_template(f"{language.value}/{name}.txt")
    subject = "".join(template.blocks["subject"](template.new_context(values)))
    # A subject is one line: a value with a line break cannot inject a header.
    subject = " ".join(subject.split())
    text = template.render(values).strip() + "\n"
    body, _, footer = text.partition(SIGNATURE)
    html = html_env.get_template("base.html").render(
        language=language.value,
        subject=subject,
        paragraphs=_paragraphs(body),
        footer=_paragraphs(footer),
    )
    return Rendered(subject=subject, text=text, html=html)
