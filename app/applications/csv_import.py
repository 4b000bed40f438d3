"""Reading an application form export (CSV, UTF-8, Russian or English headers). Pure: no I/O.

Each data row becomes either a validated ``ImportedRow`` or a list of reasons it was refused;
what to do with the valid ones is the service's business.
"""

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationError, field_validator

from app.applications.schemas import ApplicationFields
from app.models.member import SENIORITY_LABELS, Function

# Canonical field -> header spellings (compared case-insensitively, spaces collapsed).
HEADERS: dict[str, tuple[str, ...]] = {
    "email": (
        "email",
        "e-mail",
        "e mail",
        "почта",
        "электронная почта",
        "адрес электронной почты",
        "эл. почта",
        "емейл",
    ),
    "full_name": (
        "full_name",
        "full name",
        "name",
        "фио",
        "ф.и.о.",
        "имя и фамилия",
        "имя фамилия",
        "фамилия имя отчество",
        "имя",
    ),
    "phone": ("phone", "телефон", "номер телефона", "мобильный телефон"),
    "function": ("function", "функция", "роль", "функциональная роль", "направление"),
    "seniority": ("seniority", "уровень", "уровень позиции", "грейд"),
    "industry": ("industry", "отрасль", "индустрия"),
    "years_in_management": (
        "years_in_management",
        "years in management",
        "стаж в управлении",
        "опыт управления (лет)",
        "опыт управления",
        "лет в управлении",
        "стаж управления",
    ),
    "team_size": (
        "team_size",
        "team size",
        "размер команды",
        "численность команды",
        "команда (человек)",
    ),
    "company": ("company", "компания", "место работы", "организация"),
    "job_title": ("job_title", "job title", "title", "position", "должность"),
    "experience_summary": (
        "experience_summary",
        "experience",
        "summary",
        "опыт",
        "кратко об опыте",
        "расскажите о своем опыте",
        "о себе",
    ),
    "wants": (
        "wants",
        "what you want",
        "что хотите получить",
        "что хотите получить от сообщества",
        "ожидания",
    ),
    "gives": (
        "gives",
        "what you give",
        "чем можете поделиться",
        "чем готовы поделиться",
        "что можете дать сообществу",
    ),
    "source": (
        "source",
        "how did you hear about us",
        "откуда узнали",
        "откуда вы узнали о нас",
        "источник",
    ),
    "utm_source": ("utm_source",),
    "utm_medium": ("utm_medium",),
    "utm_campaign": ("utm_campaign",),
    "reviewers_may_see_company": (
        "reviewers_may_see_company",
        "consent",
        "show company to reviewers",
        "согласие",
        "согласие на показ компании и должности",
        "согласие на показ компании и должности экспертам",
    ),
}


def _header_key(text: str) -> str:
    text = text.replace("\ufeff", "").replace("ё", "е").replace("Ё", "Е")
    text = re.sub(r"\s+", " ", text).strip().strip("*:?").strip()
    return text.casefold()


_ALIASES = {_header_key(alias): name for name, aliases in HEADERS.items() for alias in aliases}
_TRUE = {"1", "true", "yes", "y", "да", "д", "согласен", "согласна", "+"}
_FALSE = {"", "0", "false", "no", "n", "нет", "н", "не согласен", "не согласна", "-"}
_FUNCTIONS = {f.value.casefold(): f for f in Function} | {f.name.casefold(): f for f in Function}
_SENIORITY = {label.casefold(): level for level, label in SENIORITY_LABELS.items()}


class CsvUnreadable(ValueError):
    """The file as a whole cannot be read (not UTF-8, no header, no e-mail column)."""


class _Contact(BaseModel):
    """Who applied: the columns a row has beyond the application's fields."""

    email: EmailStr
    full_name: str = Field(min_length=1, max_length=200)
    phone: str | None = Field(default=None, max_length=40, pattern=r"^\+?[0-9 ()\-]{5,40}$")


class ImportedRow(ApplicationFields, _Contact):
    """A row: who applied, and the application's fields under the API's rules. Every cell is
    stripped, and a blank one is no value."""

    # _Contact is the last base because pydantic collects fields from the last base first:
    # e-mail, name and phone stay the first fields, so a refused row lists their reasons first.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    # No consent column, or an empty cell, is no consent.
    reviewers_may_see_company: bool = False

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        # NUL is refused by the check ApplicationFields inherits (InputSchema).
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("function", mode="before")
    @classmethod
    def _function(cls, value: Any) -> Any:
        if isinstance(value, str):
            found = _FUNCTIONS.get(value.strip().casefold())
            if found is None:
                choices = ", ".join(f.value for f in Function)
                raise ValueError(f"unknown function; use one of {choices}")
            return found
        return value

    @field_validator("seniority", mode="before")
    @classmethod
    def _seniority(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip().isdigit():
            level = _SENIORITY.get(value.strip().casefold())
            if level is None:
                raise ValueError(
                    "seniority is 1 to 5 or one of: " + ", ".join(SENIORITY_LABELS.values())
                )
            return level
        return value

    @field_validator("reviewers_may_see_company", mode="before")
    @classmethod
    def _consent(cls, value: Any) -> Any:
        if value is None:
            return False
        if isinstance(value, str):
            text = value.strip().casefold()
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
            raise ValueError("consent is yes or no (да / нет)")
        return value

    def application_fields(self) -> dict[str, Any]:
        return self.model_dump(exclude={"email", "full_name", "phone"})


@dataclass
class ParsedRow:
    line: int
    row: ImportedRow | None = None
    errors: list[str] = field(default_factory=list)
    email: str | None = None


def _delimiter(first_line: str) -> str:
    # Spreadsheet exports in Russian locales use ";"; pick whichever separates more headers.
    return max((",", ";", "\t"), key=first_line.count)


def parse(content: bytes, *, max_rows: int) -> Iterator[ParsedRow]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise CsvUnreadable("The file is not UTF-8 text.") from error
    if "\x00" in text:
        raise CsvUnreadable("The file contains NUL characters.")
    first_line = text.split("\n", 1)[0]
    # newline="": the csv module sees the line endings as written and handles every kind
    # (CRLF, LF, a bare CR from old spreadsheet exports) instead of failing on a lone CR.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first_line))
    try:
        header = next(reader)
    except StopIteration as error:
        raise CsvUnreadable("The file is empty.") from error
    columns: dict[int, str] = {}
    for index, title in enumerate(header):
        name = _ALIASES.get(_header_key(title))
        if name is not None and name not in columns.values():
            columns[index] = name
    if "email" not in columns.values() or "full_name" not in columns.values():
        raise CsvUnreadable(
            "The header must name an e-mail and a full-name column "
            "(e.g. 'email' and 'full_name', or 'Почта' and 'ФИО')."
        )
    count = 0
    try:
        for values in reader:
            if not any(v.strip() for v in values):
                continue
            count += 1
            if count > max_rows:
                raise CsvUnreadable(f"The file has more than {max_rows} rows; split it.")
            yield _row(reader.line_num, values, columns)
    except csv.Error as error:
        raise CsvUnreadable(f"Line {reader.line_num}: {error}") from error


def _row(line: int, values: list[str], columns: dict[int, str]) -> ParsedRow:
    data = {name: values[index] for index, name in columns.items() if index < len(values)}
    email = (data.get("email") or "").strip() or None
    try:
        return ParsedRow(line=line, row=ImportedRow.model_validate(data), email=email)
    except ValidationError as error:
        messages = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()]
        return ParsedRow(line=line, errors=messages, email=email)
