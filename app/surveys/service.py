"""Surveys: admins build, open and close them; the audience answers once each; results,
breakdowns and exports that never tie an anonymous answer to a person."""

import csv
import io
import json
import random
import uuid
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.core import audit
from app.core.config import Settings
from app.core.context import RequestContext
from app.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.core.etag import check_if_match, etag_of
from app.core.outbox import emit
from app.core.pagination import Page, decode_time_cursor, encode_time_cursor
from app.csvsafe import inert
from app.events import service as event_service
from app.models.event import Event, EventStatus
from app.models.survey import (
    Survey,
    SurveyAudience,
    SurveyRespondent,
    SurveyResponse,
    SurveyStatus,
)
from app.surveys import lifecycle, questions, repository, results
from app.surveys.events import (
    RESPONSE_CREATED,
    SURVEY_CLOSED,
    SURVEY_OPENED,
    SURVEY_REMINDED,
    ResponseCreated,
    SurveyChanged,
    SurveyClosed,
)
from app.surveys.schemas import (
    ExpressSurveyCreate,
    MyResponseRead,
    ResponseCreate,
    SurveyCreate,
    SurveyRead,
    SurveyResults,
    SurveyUpdate,
    TableResults,
)

# Anonymous exports and text answers are shuffled with the system's randomness: an order
# nobody can reproduce, so it carries no trace of when an answer arrived.
_SHUFFLE = random.SystemRandom()
EXPRESS_CLOSES_AFTER = timedelta(days=14)
EXPRESS_REMINDS_AFTER = timedelta(days=3)


class SurveyNotOpen(Conflict):
    slug, title = "survey-not-open", "The survey is not open"


class SurveyAnswered(Conflict):
    slug, title = "survey-already-answered", "Already answered"


class SurveyLocked(Conflict):
    slug, title = "survey-locked", "The survey can no longer change"


class SurveyTransitionNotAllowed(Conflict):
    slug, title = "survey-transition-not-allowed", "The survey cannot move to that status"


def view(survey: Survey, *, answered: int) -> SurveyRead:
    return SurveyRead.model_validate(
        {
            **survey.model_dump(),
            "questions": survey.questions,
            "editable": answered == 0 and survey.status != SurveyStatus.closed,
        },
    )


def _changed(survey: Survey) -> SurveyChanged:
    return SurveyChanged(
        id=survey.id,
        version=survey.version,
        anonymous=survey.anonymous,
        event_id=str(survey.event_id) if survey.event_id else None,
        status=survey.status,
    )


def _touch(survey: Survey, now: datetime) -> None:
    survey.version += 1
    survey.updated_at = now


async def _view(session: AsyncSession, survey: Survey) -> SurveyRead:
    return view(survey, answered=await repository.respondent_count(session, survey.id))


def _may_read(principal: Principal, survey: Survey) -> bool:
    return principal.is_admin or survey.status in lifecycle.LISTED


async def _readable(
    session: AsyncSession, principal: Principal, survey_id: uuid.UUID, *, lock: str | None = None
) -> Survey:
    survey = await repository.get(session, survey_id, lock=lock)
    if survey is None or not _may_read(principal, survey):
        raise NotFound("No such survey.")
    return survey


async def _event(session: AsyncSession, admin: Principal, event_id: uuid.UUID) -> Event:
    event = await event_service.load_visible(session, admin, event_id)
    if event.status == EventStatus.cancelled:
        raise Conflict("The event was cancelled.")
    return event


async def _check_event(
    session: AsyncSession,
    admin: Principal,
    event_id: uuid.UUID | None,
    audience: str,
    *,
    stored: bool = False,
) -> None:
    """``stored``: the survey exists, so an audience that its stored lack of an event rules out
    conflicts with its state (409); in a new survey's body it is invalid input (422)."""
    if event_id is None:
        if audience != SurveyAudience.members:
            refusal = Conflict if stored else InvalidInput
            raise refusal("A survey without an event can only ask all members.")
        return
    await _event(session, admin, event_id)


def _check_consistent(survey: Survey) -> None:
    """Rules over several fields, checked after a change is applied."""
    if survey.anonymous and survey.allow_edit:
        raise InvalidInput(
            "Anonymous answers cannot be edited: nothing links them to their author."
        )
    if survey.opens_at and survey.closes_at and survey.closes_at <= survey.opens_at:
        raise InvalidInput("closes_at must be after opens_at.")
    keys = {q["key"]: q["type"] for q in survey.questions}
    if survey.headline_question is not None and keys.get(survey.headline_question) != "rating":
        raise InvalidInput("headline_question must name a rating question.")


async def create(
    session: AsyncSession, *, admin: Principal, context: RequestContext, data: SurveyCreate
) -> SurveyRead:
    audience = data.audience or (
        SurveyAudience.checked_in if data.event_id else SurveyAudience.members
    )
    await _check_event(session, admin, data.event_id, audience)
    survey = Survey(
        **data.model_dump(exclude={"questions", "audience"}),
        audience=audience,
        questions=[questions.stored(q.model_dump()) for q in data.questions],
        created_by=admin.id,
    )
    await repository.add(session, survey)
    audit.record(
        session,
        actor_id=admin.id,
        action="survey.created",
        target_type="survey",
        target_id=survey.id,
        context=context,
    )
    return view(survey, answered=0)


async def create_express(
    session: AsyncSession,
    *,
    admin: Principal,
    context: RequestContext,
    event_id: uuid.UUID,
    data: ExpressSurveyCreate,
    now: datetime,
) -> SurveyRead:
    """The five questions asked after every meeting, for one event, open at once unless
    asked otherwise."""
    event = await _event(session, admin, event_id)
    closes_at = data.closes_at or max(event.ends_at, now) + EXPRESS_CLOSES_AFTER
    remind_at = data.remind_at or max(event.ends_at, now) + EXPRESS_REMINDS_AFTER
    if closes_at <= now:
        raise InvalidInput("closes_at must be in the future.")
    survey = Survey(
        event_id=event.id,
        title=questions.EXPRESS_TITLE[data.language].format(event=event.title)[:200],
        anonymous=data.anonymous,
        audience=data.audience,
        closes_at=closes_at,
        remind_at=remind_at if remind_at < closes_at else None,
        questions=questions.express_questions(data.language),
        headline_question="liked",
        created_by=admin.id,
    )
    await repository.add(session, survey)
    audit.record(
        session,
        actor_id=admin.id,
        action="survey.created",
        target_type="survey",
        target_id=survey.id,
        context=context,
        details={"template": "express"},
    )
    if data.open_now:
        _move(session, survey, SurveyStatus.open, now)
    await session.flush()
    return view(survey, answered=0)


async def get(session: AsyncSession, *, principal: Principal, survey_id: uuid.UUID) -> SurveyRead:
    return await _view(session, await _readable(session, principal, survey_id))


async def list_surveys(
    session: AsyncSession,
    *,
    principal: Principal,
    event_id: uuid.UUID | None,
    status: SurveyStatus | None,
    cursor: str | None,
    limit: int,
) -> Page[SurveyRead]:
    sort = "surveys:-created_at"
    allowed = list(SurveyStatus) if principal.is_admin else list(lifecycle.LISTED)
    statuses = [s for s in allowed if status is None or s == status]
    rows = await repository.list_surveys(
        session,
        statuses=statuses,
        event_id=event_id,
        after=decode_time_cursor(cursor, sort),
        limit=limit,
    )
    page = rows[:limit]
    next_cursor = (
        encode_time_cursor(sort, page[-1].created_at, page[-1].id) if len(rows) > limit else None
    )
    answered = await repository.respondent_counts(session, [s.id for s in page])
    return Page[SurveyRead](
        items=[view(s, answered=answered.get(s.id, 0)) for s in page], next_cursor=next_cursor
    )


async def update(
    session: AsyncSession,
    *,
    admin: Principal,
    context: RequestContext,
    survey_id: uuid.UUID,
    data: SurveyUpdate,
    if_match: str | None,
    now: datetime,
) -> SurveyRead:
    """Change a survey until the first answer: after that, answers would no longer match
    the questions they were given to."""
    survey = await _readable(session, admin, survey_id, lock="update")
    answered = await repository.respondent_count(session, survey.id)
    check_if_match(if_match, etag_of(view(survey, answered=answered)))
    if answered or survey.status == SurveyStatus.closed:
        raise SurveyLocked("Answers have arrived (or the survey closed): it no longer changes.")
    changes = data.model_dump(exclude_unset=True)
    for name in (
        "title",
        "anonymous",
        "audience",
        "allow_edit",
        "satisfied_threshold",
        "min_group_size",
        "questions",
    ):
        if name in changes and changes[name] is None:
            raise InvalidInput(f"{name} cannot be removed.")
    if "questions" in changes:
        changes["questions"] = [questions.stored(q) for q in changes["questions"]]
        if len({q["key"] for q in changes["questions"]}) != len(changes["questions"]):
            raise InvalidInput("Question keys must differ.")
    for name, value in changes.items():
        setattr(survey, name, value)
    _check_consistent(survey)
    await _check_event(session, admin, survey.event_id, survey.audience, stored=True)
    if changes:
        _touch(survey, now)
        audit.record(
            session,
            actor_id=admin.id,
            action="survey.updated",
            target_type="survey",
            target_id=survey.id,
            context=context,
            details={"fields": sorted(changes)},
        )
    await session.flush()
    return view(survey, answered=0)


def _move(
    session: AsyncSession, survey: Survey, target: SurveyStatus, now: datetime, responses: int = 0
) -> None:
    if not lifecycle.may_move(survey.status, target):
        raise SurveyTransitionNotAllowed(
            f"A survey that is {survey.status} cannot become {target}."
        )
    survey.status = target
    _touch(survey, now)
    if target == SurveyStatus.open:
        survey.opened_at = now
        emit(session, SURVEY_OPENED, _changed(survey))
    elif target == SurveyStatus.closed:
        survey.closed_at = now
        emit(
            session,
            SURVEY_CLOSED,
            SurveyClosed(**_changed(survey).model_dump(), responses=responses),
        )


async def open_survey(
    session: AsyncSession,
    *,
    admin: Principal,
    context: RequestContext,
    survey_id: uuid.UUID,
    now: datetime,
) -> SurveyRead:
    """Open now, or schedule for opens_at when that is still ahead (a scheduled survey
    opened again opens at once)."""
    survey = await _readable(session, admin, survey_id, lock="update")
    if survey.closes_at is not None and survey.closes_at <= now:
        raise SurveyTransitionNotAllowed("closes_at has passed; move it before opening.")
    await _check_event(session, admin, survey.event_id, survey.audience, stored=True)
    later = (
        survey.status == SurveyStatus.draft
        and survey.opens_at is not None
        and survey.opens_at > now
    )
    if survey.status == SurveyStatus.scheduled:
        survey.opens_at = now
    _move(session, survey, SurveyStatus.scheduled if later else SurveyStatus.open, now)
    audit.record(
        session,
        actor_id=admin.id,
        action=f"survey.{survey.status}",
        target_type="survey",
        target_id=survey.id,
        context=context,
    )
    await session.flush()
    return await _view(session, survey)


async def close_survey(
    session: AsyncSession,
    *,
    admin: Principal,
    context: RequestContext,
    survey_id: uuid.UUID,
    now: datetime,
) -> SurveyRead:
    survey = await _readable(session, admin, survey_id, lock="update")
    answered = await repository.respondent_count(session, survey.id)
    _move(session, survey, SurveyStatus.closed, now, responses=answered)
    audit.record(
        session,
        actor_id=admin.id,
        action="survey.closed",
        target_type="survey",
        target_id=survey.id,
        context=context,
    )
    await session.flush()
    return view(survey, answered=answered)


async def remind(
    session: AsyncSession,
    *,
    admin: Principal,
    context: RequestContext,
    survey_id: uuid.UUID,
    now: datetime,
) -> SurveyRead:
    """Remind those of the audience who have not answered (the e-mails go from the outbox)."""
    survey = await _readable(session, admin, survey_id, lock="update")
    if survey.status != SurveyStatus.open:
        raise SurveyNotOpen("Only an open survey sends reminders.")
    survey.reminded_at = now
    emit(session, SURVEY_REMINDED, _changed(survey))
    audit.record(
        session,
        actor_id=admin.id,
        action="survey.reminded",
        target_type="survey",
        target_id=survey.id,
        context=context,
    )
    await session.flush()
    return await _view(session, survey)


def _accepting(survey: Survey, now: datetime) -> None:
    if survey.status != SurveyStatus.open:
        raise SurveyNotOpen(f"The survey is {survey.status}.")
    if survey.closes_at is not None and survey.closes_at <= now:
        raise SurveyNotOpen("The survey has closed.")


def _clean(survey: Survey, answers: dict[str, Any]) -> dict[str, Any]:
    try:
        return questions.clean_answers(survey.questions, answers)
    except questions.AnswerError as error:
        raise InvalidInput(str(error)) from error


def _mine(
    survey: Survey, response: SurveyResponse | None, answered: bool, now: datetime
) -> MyResponseRead:
    editable = (
        response is not None
        and survey.allow_edit
        and not survey.anonymous
        and survey.status == SurveyStatus.open
        and (survey.closes_at is None or survey.closes_at > now)
    )
    return MyResponseRead(
        survey_id=survey.id,
        answered=answered,
        editable=editable,
        answers=response.answers if response is not None else None,
        submitted_on=response.submitted_on.isoformat() if response is not None else None,
    )


async def respond(
    session: AsyncSession,
    *,
    principal: Principal,
    survey_id: uuid.UUID,
    data: ResponseCreate,
    now: datetime,
) -> MyResponseRead:
    """Answer once. For anonymous surveys the member is recorded as having answered in one
    table and the answers, without them, in another."""
    # A shared lock: answers arrive side by side; a change or closing waits for them.
    survey = await _readable(session, principal, survey_id, lock="share")
    _accepting(survey, now)
    if not await repository.in_audience(session, survey, principal.id):
        raise Forbidden("This survey is for another audience.")
    if await repository.has_answered(session, survey.id, principal.id):
        raise SurveyAnswered("You answered this survey already.")
    answers = _clean(survey, data.answers)
    table = (
        await repository.table_of(session, survey.event_id, principal.id)
        if survey.event_id
        else None
    )
    response = SurveyResponse(
        survey_id=survey.id,
        member_id=None if survey.anonymous else principal.id,
        table_number=table,
        answers=answers,
        submitted_on=now.date(),
    )
    try:
        await repository.record_answer(
            session, SurveyRespondent(survey_id=survey.id, member_id=principal.id), response
        )
    except repository.AlreadyAnswered as error:
        raise SurveyAnswered("You answered this survey already.") from error
    named = not survey.anonymous
    emit(
        session,
        RESPONSE_CREATED,
        ResponseCreated(
            id=survey.id,
            version=survey.version,
            anonymous=survey.anonymous,
            event_id=str(survey.event_id) if survey.event_id else None,
            response_id=str(response.id) if named else None,
            member_id=str(principal.id) if named else None,
        ),
    )
    return _mine(survey, response if named else None, True, now)


async def my_response(
    session: AsyncSession, *, principal: Principal, survey_id: uuid.UUID, now: datetime
) -> MyResponseRead:
    survey = await _readable(session, principal, survey_id)
    answered = await repository.has_answered(session, survey.id, principal.id)
    response = (
        None
        if survey.anonymous or not answered
        else await repository.named_response(session, survey.id, principal.id)
    )
    return _mine(survey, response, answered, now)


async def edit_response(
    session: AsyncSession,
    *,
    principal: Principal,
    survey_id: uuid.UUID,
    data: ResponseCreate,
    now: datetime,
) -> MyResponseRead:
    survey = await _readable(session, principal, survey_id, lock="share")
    if survey.anonymous or not survey.allow_edit:
        raise SurveyLocked("This survey does not allow changing answers.")
    _accepting(survey, now)
    response = await repository.named_response(session, survey.id, principal.id, for_update=True)
    if response is None:
        raise NotFound("You have not answered this survey.")
    response.answers = _clean(survey, data.answers)
    response.updated_on = now.date()
    await session.flush()
    return _mine(survey, response, True, now)


async def _results(
    session: AsyncSession, survey: Survey
) -> tuple[results.Results, list[tuple[Any, ...]]]:
    rows = await repository.responses(session, survey.id)
    facilitators = (
        await repository.facilitators(session, survey.event_id) if survey.event_id else {}
    )
    computed = results.compute(
        [
            results.QuestionSpec(q["key"], q["type"], q["text"], tuple(q["options"]))
            for q in survey.questions
        ],
        [results.Answered(answers, table) for _, _, table, answers, _ in rows],
        audience=await repository.audience_size(session, survey),
        settings=results.Settings(
            min_group_size=survey.min_group_size,
            satisfied_threshold=survey.satisfied_threshold,
            headline_question=survey.headline_question,
            shuffle_texts=survey.anonymous,
        ),
        facilitators={n: str(f) for n, f in facilitators.items()},
        rng=_SHUFFLE,
        # Anonymous answers could be read by differencing a live breakdown: it waits for the
        # close, when no answer can arrive between two reads any more.
        breakdowns=not survey.anonymous or survey.status == SurveyStatus.closed,
    )
    return computed, rows


async def survey_results(
    session: AsyncSession, *, admin: Principal, survey_id: uuid.UUID
) -> SurveyResults:
    survey = await _readable(session, admin, survey_id)
    computed, rows = await _results(session, survey)
    days = Counter(str(day) for *_, day in rows)
    return SurveyResults.model_validate(
        {
            **computed.__dict__,
            "survey_id": survey.id,
            "status": survey.status,
            "anonymous": survey.anonymous,
            "min_group_size": survey.min_group_size,
            "responses_by_day": dict(sorted(days.items())),
        },
        from_attributes=True,
    )


async def my_table_results(
    session: AsyncSession, *, principal: Principal, survey_id: uuid.UUID
) -> list[TableResults]:
    """A facilitator's own table(s): the aggregate when the table has k answers or more,
    exactly as the admins' breakdown shows it."""
    survey = await _readable(session, principal, survey_id)
    led = (
        await repository.tables_led_by(session, survey.event_id, principal.id)
        if survey.event_id
        else []
    )
    if not led:
        raise NotFound("You led no table at this survey's event.")
    computed, _ = await _results(session, survey)
    shown = {g.table_number: g for g in computed.by_table.groups}
    return [
        TableResults.model_validate(
            {
                "survey_id": survey.id,
                "table_number": number,
                "shown": number in shown,
                "responses": shown[number].responses if number in shown else None,
                "questions": shown[number].questions if number in shown else [],
            },
            from_attributes=True,
        )
        for number in led
    ]


def _cell(value: Any) -> str:
    text = (
        "; ".join(value)
        if isinstance(value, list)
        else (
            "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
        )
    )
    return inert(text)


async def export(
    session: AsyncSession,
    *,
    admin: Principal,
    context: RequestContext,
    survey_id: uuid.UUID,
    fmt: str,
) -> tuple[bytes, str]:
    """Every response as CSV or JSON. Anonymous: answers only, rows in random order;
    named: with the member, their table and the day."""
    survey = await _readable(session, admin, survey_id)
    rows = await repository.responses(session, survey.id)
    keys = [q["key"] for q in survey.questions]
    if survey.anonymous:
        records = [{key: answers.get(key) for key in keys} for _, _, _, answers, _ in rows]
        _SHUFFLE.shuffle(records)
    else:
        names = await repository.member_names(session, [m for _, m, *_ in rows if m])
        records = [
            {
                "response_id": str(rid),
                "member_id": str(member) if member else None,
                "member_name": names.get(member) if member else None,
                "table_number": table,
                "submitted_on": str(day),
                **{key: answers.get(key) for key in keys},
            }
            for rid, member, table, answers, day in rows
        ]
        records.sort(key=lambda r: (r["submitted_on"], r["member_name"] or "", r["response_id"]))
    audit.record(
        session,
        actor_id=admin.id,
        action="survey.exported",
        target_type="survey",
        target_id=survey.id,
        context=context,
        details={"format": fmt},
    )
    if fmt == "json":
        body = {
            "survey": json.loads((await _view(session, survey)).model_dump_json()),
            "responses": records,
        }
        return json.dumps(body, ensure_ascii=False).encode(), "application/json"
    out = io.StringIO()
    columns = (
        list(records[0])
        if records
        else (
            keys
            if survey.anonymous
            else ["response_id", "member_id", "member_name", "table_number", "submitted_on", *keys]
        )
    )
    writer = csv.writer(out)
    writer.writerow(columns)
    for record in records:
        writer.writerow([_cell(record[c]) for c in columns])
    return out.getvalue().encode(), "text/csv; charset=utf-8"


async def pending_invitees(session: AsyncSession, survey_id: uuid.UUID) -> list[uuid.UUID]:
    """Who an invitation or reminder goes to: the audience of an open survey that has not
    answered (known for anonymous surveys too, from the record of who answered)."""
    survey = await repository.get(session, survey_id)
    if survey is None or survey.status != SurveyStatus.open:
        return []
    return await repository.not_answered(session, survey)


async def invitation(
    session: AsyncSession, survey_id: uuid.UUID
) -> tuple[str, datetime | None] | None:
    """(title, closes_at) while the survey still takes answers; None once it does not."""
    survey = await repository.get(session, survey_id)
    if survey is None or survey.status != SurveyStatus.open:
        return None
    return survey.title, survey.closes_at


SEAL_BATCH = 1000


async def seal_answers(session: AsyncSession, settings: Settings, now: datetime) -> int:
    """Detach new answers from the transactions that recorded who answered: rewrite them
    together, in random order (see ``SurveyResponse.sealed``)."""
    ids = await repository.unsealed(session, SEAL_BATCH)
    _SHUFFLE.shuffle(ids)
    await repository.seal(session, ids)
    return len(ids)


async def run_schedule(session: AsyncSession, settings: Settings, now: datetime) -> int:
    """Open scheduled surveys at opens_at, close open ones at closes_at, send each one's
    reminder at remind_at. Rows are locked (SKIP LOCKED), so replicas never double up."""
    opening, closing, reminding = await repository.due(session, now)
    for survey in opening:
        _move(session, survey, SurveyStatus.open, now)
    for survey in closing:
        _move(
            session,
            survey,
            SurveyStatus.closed,
            now,
            responses=await repository.respondent_count(session, survey.id),
        )
    for survey in reminding:
        if survey.status == SurveyStatus.open:
            survey.reminded_at = now
            emit(session, SURVEY_REMINDED, _changed(survey))
    await session.flush()
    return len(opening) + len(closing) + len(reminding)
