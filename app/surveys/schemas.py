"""Shapes of the survey routes: questions as data, answers, results."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator, model_validator

from app.core.schemas import NON_BLANK_PATTERN, InputSchema, Keep, ReadSchema, UTCTimestamp
from app.models.survey import QuestionType, SurveyAudience, SurveyStatus

Key = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
# Blank options are refused after stripping, NUL always (InputSchema): the pattern says both
# in the contract.
Option = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=200, pattern=NON_BLANK_PATTERN
    ),
]
# What an answer may be: a number (rating, NPS), yes/no, a choice or text, several choices.
AnswerValue = (
    Annotated[bool, Field(strict=True)]
    | int
    | Annotated[str, Field(max_length=10_000)]
    | Annotated[list[Annotated[str, Field(max_length=200)]], Field(max_length=50)]
)
# Only question keys: say so in the contract (patternProperties alone lets other keys through).
Answers = Annotated[
    dict[Key, AnswerValue], Field(max_length=100, json_schema_extra={"additionalProperties": False})
]

TEXT_LIMIT = {QuestionType.short_text: 500, QuestionType.long_text: 10_000}
CHOICE_TYPES = frozenset({QuestionType.single_choice, QuestionType.multiple_choice})


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("needs a time zone, e.g. a trailing Z")
    return value


class Question(InputSchema):
    key: Key = Field(description="Stable id of the question within the survey, e.g. `nps`.")
    type: QuestionType
    text: str = Field(min_length=1, max_length=500)
    section: str | None = Field(
        default=None,
        max_length=200,
        description="The section heading; consecutive questions with one heading form it.",
    )
    required: bool = False
    options: list[Option] = Field(
        default_factory=list, max_length=30, description="The choices (single and multiple choice)."
    )
    min_choices: int | None = Field(default=None, ge=1, le=30)
    max_choices: int | None = Field(default=None, ge=1, le=30)
    max_length: int | None = Field(
        default=None, ge=1, le=10_000, description="Longest text answer (short: up to 500)."
    )

    @model_validator(mode="after")
    def _consistent(self) -> "Question":
        choice = self.type in CHOICE_TYPES
        if choice and len(self.options) < 2:
            raise ValueError("a choice question needs at least two options")
        if not choice and self.options:
            raise ValueError("only choice questions have options")
        if len(set(self.options)) != len(self.options):
            raise ValueError("options must differ")
        if (self.min_choices is not None or self.max_choices is not None) and (
            self.type != QuestionType.multiple_choice
        ):
            raise ValueError("min_choices and max_choices belong to multiple choice")
        if self.max_choices is not None and self.max_choices > len(self.options):
            raise ValueError("max_choices exceeds the number of options")
        if (self.min_choices or 1) > (self.max_choices or len(self.options) or 1):
            raise ValueError("min_choices exceeds max_choices")
        limit = TEXT_LIMIT.get(self.type)
        if self.max_length is not None and (limit is None or self.max_length > limit):
            raise ValueError(
                f"max_length is for text questions, up to {limit}"
                if limit
                else "max_length is for text questions"
            )
        return self


class SurveyFields(InputSchema):
    @field_validator("opens_at", "closes_at", "remind_at", check_fields=False)
    @classmethod
    def _tz(cls, value: datetime | None) -> datetime | None:
        return _aware(value)


def _check_questions(questions: list[Question], headline: str | None) -> None:
    keys = [q.key for q in questions]
    if len(set(keys)) != len(keys):
        raise ValueError("question keys must differ")
    if headline is not None and not any(
        q.key == headline and q.type == QuestionType.rating for q in questions
    ):
        raise ValueError("headline_question must name a rating question")


class SurveyCreate(SurveyFields):
    event_id: uuid.UUID | None = Field(
        default=None, description="The event surveyed; none for a community-wide survey."
    )
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    anonymous: bool = Field(
        default=True, description="Answers cannot be linked to who gave them, by anyone."
    )
    audience: SurveyAudience | None = Field(
        default=None,
        description="checked_in (the default with an event), confirmed, or "
        "members (the default, and the only choice, without one).",
    )
    allow_edit: bool = Field(
        default=False, description="Named surveys: respondents may change their answers while open."
    )
    opens_at: datetime | None = None
    closes_at: datetime | None = None
    remind_at: datetime | None = Field(
        default=None, description="When those who have not answered get a reminder."
    )
    satisfied_threshold: int = Field(default=4, ge=1, le=5)
    min_group_size: int = Field(
        default=5,
        ge=2,
        le=100,
        description="k: smaller table or facilitator groups are never shown in breakdowns.",
    )
    headline_question: Key | None = None
    questions: list[Question] = Field(min_length=1, max_length=50)

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "event_id": "2d4f6a8c-0e1b-4c3d-9f5a-7b8c9d0e1f2a",
                    "title": "Board #1: your view",
                    "anonymous": True,
                    "audience": "checked_in",
                    "closes_at": "2027-02-23T21:00:00Z",
                    "questions": [
                        {
                            "key": "liked",
                            "type": "rating",
                            "text": "How did you like the event?",
                            "required": True,
                        },
                        {
                            "key": "format",
                            "type": "single_choice",
                            "text": "Best format?",
                            "options": ["Tables of eight", "Plenary"],
                            "section": "Format",
                        },
                        {"key": "change", "type": "long_text", "text": "What should we change?"},
                    ],
                }
            ]
        }
    }

    @model_validator(mode="after")
    def _consistent(self) -> "SurveyCreate":
        _check_questions(self.questions, self.headline_question)
        if self.anonymous and self.allow_edit:
            raise ValueError(
                "anonymous answers cannot be edited: nothing links them to their author"
            )
        if self.opens_at and self.closes_at and self.closes_at <= self.opens_at:
            raise ValueError("closes_at must be after opens_at")
        return self


class SurveyUpdate(SurveyFields):
    title: Keep[str] = Field(default=None, min_length=1, max_length=200)
    description: Keep[str] = Field(default=None, max_length=5000)
    anonymous: Keep[bool] = None
    audience: Keep[SurveyAudience] = None
    allow_edit: Keep[bool] = None
    opens_at: datetime | None = None
    closes_at: datetime | None = None
    remind_at: datetime | None = None
    satisfied_threshold: Keep[int] = Field(default=None, ge=1, le=5)
    min_group_size: Keep[int] = Field(default=None, ge=2, le=100)
    headline_question: Key | None = None
    questions: Keep[list[Question]] = Field(default=None, min_length=1, max_length=50)

    model_config = {"json_schema_extra": {"examples": [{"closes_at": "2027-02-25T21:00:00Z"}]}}


class ExpressSurveyCreate(InputSchema):
    language: Literal["ru", "en"] = Field(default="ru", description="Of the questions.")
    anonymous: bool = True
    audience: SurveyAudience = SurveyAudience.checked_in
    closes_at: datetime | None = Field(
        default=None, description="In the future. Default: two weeks after the event ends."
    )
    remind_at: datetime | None = Field(
        default=None, description="Default: three days after the event ends."
    )
    open_now: bool = Field(default=True, description="Open at once and invite the audience.")

    model_config = {"json_schema_extra": {"examples": [{"language": "ru", "anonymous": True}]}}

    @field_validator("closes_at", "remind_at")
    @classmethod
    def _tz(cls, value: datetime | None) -> datetime | None:
        return _aware(value)


class QuestionRead(ReadSchema):
    key: str
    type: QuestionType
    text: str
    section: str | None
    required: bool
    options: list[str]
    min_choices: int | None
    max_choices: int | None
    max_length: int | None


class SurveyRead(ReadSchema):
    id: uuid.UUID
    event_id: uuid.UUID | None
    title: str
    description: str
    status: SurveyStatus
    anonymous: bool
    audience: SurveyAudience
    allow_edit: bool
    opens_at: UTCTimestamp | None
    closes_at: UTCTimestamp | None
    remind_at: UTCTimestamp | None
    opened_at: UTCTimestamp | None
    closed_at: UTCTimestamp | None
    satisfied_threshold: int
    min_group_size: int
    headline_question: str | None
    questions: list[QuestionRead]
    editable: bool = Field(description="Questions may still change: nobody answered yet.")
    version: int
    created_at: UTCTimestamp
    updated_at: UTCTimestamp


class ResponseCreate(InputSchema):
    answers: Answers = Field(
        description="Answers by question key: 1-5 for ratings, 0-10 "
        "for NPS, true/false, an option, a list of options, "
        "or text."
    )

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "answers": {
                        "liked": 5,
                        "nps": 9,
                        "most_useful": "The case on moving analytics to finance.",
                    }
                }
            ]
        }
    }


class MyResponseRead(ReadSchema):
    survey_id: uuid.UUID
    answered: bool
    editable: bool = Field(description="I may still change my answers.")
    answers: dict[str, AnswerValue] | None = Field(
        description="My answers (named surveys only: anonymous answers are linked to nobody, "
        "not even to me)."
    )
    submitted_on: str | None = Field(description="The day (YYYY-MM-DD), named surveys.")


class QuestionResultRead(ReadSchema):
    key: str
    type: QuestionType
    text: str
    answered: int
    distribution: dict[str, int]
    shares: dict[str, float] = Field(
        description="Share of the question's answers per value (multiple choice: share of "
        "respondents choosing each option)."
    )
    mean: float | None
    median: float | None
    nps: float | None = Field(description="Promoters minus detractors, -100 to 100.")
    promoters: float | None
    passives: float | None
    detractors: float | None
    texts: list[str] | None = Field(
        description="Text answers; in random order for anonymous surveys."
    )


class GroupResultRead(ReadSchema):
    key: str
    table_number: int | None
    facilitator_id: uuid.UUID | None
    responses: int
    questions: list[QuestionResultRead] = Field(
        description="Only questions with enough answers in the group (k)."
    )


class BreakdownRead(ReadSchema):
    groups: list[GroupResultRead]
    withheld: int = Field(
        description="Groups not shown: too few answers to stay anonymous, or every group of an "
        "anonymous survey until it closes."
    )


class SurveyResults(ReadSchema):
    survey_id: uuid.UUID
    status: SurveyStatus
    anonymous: bool
    responses: int
    audience: int
    response_rate: float | None
    headline_question: str | None
    satisfied_threshold: int
    satisfied_share: float | None = Field(
        description="Share of answers at or above the threshold on the headline question."
    )
    headline_mean: float | None
    nps: float | None
    min_group_size: int
    responses_by_day: dict[str, int]
    questions: list[QuestionResultRead]
    by_table: BreakdownRead
    by_facilitator: BreakdownRead


class TableResults(ReadSchema):
    survey_id: uuid.UUID
    table_number: int
    shown: bool = Field(
        description="False while the table has fewer than k answers, and for an anonymous "
        "survey until it closes (a live breakdown read around one answer would tell it)."
    )
    responses: int | None
    questions: list[QuestionResultRead]
