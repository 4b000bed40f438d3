"""Questions as data (pure): checking answers against them, and the express survey template."""

from typing import Any

from app.models.survey import QuestionType

Q = QuestionType
SHORT_TEXT_LIMIT, LONG_TEXT_LIMIT = 500, 10_000
SCALES = {Q.rating: (1, 5), Q.nps: (0, 10)}


class AnswerError(ValueError):
    """An answer does not fit its question; the message names the question."""


def _text(question: dict[str, Any], value: Any) -> str:
    if not isinstance(value, str):
        raise AnswerError(f"{question['key']}: a text answer is expected")
    value = value.strip()
    default = SHORT_TEXT_LIMIT if question["type"] == Q.short_text else LONG_TEXT_LIMIT
    limit = question.get("max_length") or default
    if len(value) > limit:
        raise AnswerError(f"{question['key']}: at most {limit} characters")
    if "\x00" in value:
        raise AnswerError(f"{question['key']}: must not contain NUL characters")
    return value


def _check(question: dict[str, Any], value: Any) -> Any:
    key, kind = question["key"], question["type"]
    if kind in SCALES:
        low, high = SCALES[kind]
        # bool is an int in Python; true is not a rating.
        if type(value) is not int or not low <= value <= high:
            raise AnswerError(f"{key}: a whole number from {low} to {high} is expected")
        return value
    if kind == Q.yes_no:
        if not isinstance(value, bool):
            raise AnswerError(f"{key}: true or false is expected")
        return value
    if kind == Q.single_choice:
        if value not in question["options"]:
            raise AnswerError(f"{key}: one of the options is expected")
        return value
    if kind == Q.multiple_choice:
        if not isinstance(value, list) or any(v not in question["options"] for v in value):
            raise AnswerError(f"{key}: a list of the options is expected")
        if len(set(value)) != len(value):
            raise AnswerError(f"{key}: an option is chosen once")
        low = question.get("min_choices") or 1
        high = question.get("max_choices") or len(question["options"])
        if not low <= len(value) <= high:
            raise AnswerError(f"{key}: choose {low} to {high} options")
        # Stored in the question's order, so exports and counts read the same everywhere.
        return [option for option in question["options"] if option in value]
    return _text(question, value)


def clean_answers(questions: list[dict[str, Any]], answers: dict[str, Any]) -> dict[str, Any]:
    """The answers as stored: checked against their questions, empty text dropped.
    Raises ``AnswerError`` for an unknown question, a bad value or a missing required one."""
    by_key = {q["key"]: q for q in questions}
    unknown = sorted(set(answers) - set(by_key))
    if unknown:
        raise AnswerError(f"no such question: {', '.join(unknown)}")
    cleaned: dict[str, Any] = {}
    for key, value in answers.items():
        if value is None:
            continue
        checked = _check(by_key[key], value)
        if checked == "" or checked == []:
            continue  # an empty optional text or choice is no answer
        cleaned[key] = checked
    missing = [q["key"] for q in questions if q.get("required") and q["key"] not in cleaned]
    if missing:
        raise AnswerError(f"required: {', '.join(missing)}")
    return cleaned


def stored(question: dict[str, Any]) -> dict[str, Any]:
    """A question as kept on the survey: every field present, so reads need no defaults."""
    return {
        "key": question["key"],
        "type": str(question["type"]),
        "text": question["text"],
        "section": question.get("section"),
        "required": bool(question.get("required")),
        "options": list(question.get("options") or []),
        "min_choices": question.get("min_choices"),
        "max_choices": question.get("max_choices"),
        "max_length": question.get("max_length"),
    }


EXPRESS_TITLE = {"ru": "Экспресс-опрос: {event}", "en": "Express survey: {event}"}
# The five questions asked after every meeting (key, type, required, ru text, en text).
EXPRESS_QUESTIONS: list[tuple[str, QuestionType, bool, str, str]] = [
    ("liked", Q.rating, True, "Как вам встреча?", "How did you like the event?"),
    (
        "nps",
        Q.nps,
        True,
        "Насколько вероятно, что вы порекомендуете встречи сообщества коллеге?",
        "How likely are you to recommend the community's meetings to a colleague?",
    ),
    ("most_useful", Q.long_text, False, "Что было самым полезным?", "What was most useful?"),
    ("change", Q.long_text, False, "Что нам стоит изменить?", "What should we change?"),
    (
        "next_topics",
        Q.long_text,
        False,
        "Какие темы и кейсы разобрать в следующий раз?",
        "Which topics and cases next time?",
    ),
]


def express_questions(language: str) -> list[dict[str, Any]]:
    return [
        stored(
            {"key": key, "type": kind, "required": required, "text": ru if language == "ru" else en}
        )
        for key, kind, required, ru, en in EXPRESS_QUESTIONS
    ]
