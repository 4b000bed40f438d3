"""Contract fuzzing: schemathesis against the app in process, every check, as every role.

Every operation of the OpenAPI document receives generated requests, valid ones and invalid
ones, from an anonymous caller and from a member of each role. Every check schemathesis has
runs on every response (no 5xx; status code, content type, headers and body as documented;
valid input accepted, invalid input refused; auth not ignored), plus ours: every error is
problem+json. Failures are collected across all operations, so one run reports every one.

The budget is bounded for CI: ``DL_FUZZ_EXAMPLES`` examples per operation, role and mode
(default 3, about 2,700 requests). A deep run raises it:
``DL_FUZZ_EXAMPLES=25 pytest tests/test_contract_fuzz.py --log-cli-level=INFO``. The run is
reproducible: hypothesis is derandomized and keeps no example database. The summary (requests,
statuses, time) is logged.

The requests reach real data: the demo community is loaded first. What a client can only know
because the server handed it out (ids, cursors, signed links, ETags), and the rules the schema
states only in words, are supplied as a client would; ``_as_a_client_would`` lists them, each
with its reason. Refusals that depend on stored state are listed in ``STATE_DEPENDENT``.
"""

import logging
import os
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import hypothesis
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.core.failures import FailureGroup
from schemathesis.python import asgi
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from app.auth import links
from app.main import create_app
from app.manage.demo import load_demo
from app.members.service import unsubscribe_token
from app.models.application import Application
from app.models.case import Case, Recommendation
from app.models.crm import CrmSyncRun
from app.models.event import Event
from app.models.member import Member, MemberRole
from app.models.notification import OPTIONAL_KINDS, NextEventGuest
from app.models.registration import Registration
from app.models.review import Review, RubricCriterion
from app.models.survey import Survey
from app.models.token import ApiToken, LinkPurpose
from app.models.webhook import Delivery, WebhookSubscription
from app.registrations.service import (
    confirmation_link_token,
    guest_confirm_token,
    guest_unsubscribe_token,
    qr_token,
)
from tests.conftest import make_settings, seeded_tables_kept, truncate_all

EXAMPLES = int(os.environ.get("DL_FUZZ_EXAMPLES", "3"))
# The stateful phase: scenarios per role, each a chain of calls along the links schemathesis
# infers between operations (an id returned by one, used in the path of the next).
SCENARIOS = int(os.environ.get("DL_FUZZ_SCENARIOS", "5"))
STEPS = int(os.environ.get("DL_FUZZ_STEPS", "8"))
ROLES = ["anonymous", "applicant", "member", "reviewer", "facilitator", "admin"]
# Operations that end the caller's own credentials (every token, the password, the account):
# each role calls them as a member of its own, so the other operations keep a valid token.
SELF_ENDING = {"auth_logout_all", "auth_change_password", "me_erase"}


@dataclass
class Report:
    failures: dict[tuple[str, str, str], str] = field(default_factory=dict)
    requests: int = 0
    stateless: int = 0  # requests before the stateful phase
    statuses: dict[int, int] = field(default_factory=dict)

    def add(self, label: str, role: str, title: str, detail: str) -> None:
        self.failures.setdefault((label, role, title), detail)


@schemathesis.check
def problem_json(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every error is RFC 9457 problem+json carrying the status it was sent with."""
    if response.status_code < 400:
        return None
    content_type = response.headers.get("content-type", [""])[0]
    if not content_type.startswith("application/problem+json"):
        raise AssertionError(f"{response.status_code} sent as {content_type!r}")
    body = response.json()
    if body.get("status") != response.status_code or not str(body.get("type")).startswith(
        "/problems/"
    ):
        raise AssertionError(f"not a problem body: {body!r}")
    return None


@dataclass
class World:
    tokens: dict[str, str | None]
    # Per role, for each self-ending operation, the token of a member of its own.
    spare_tokens: dict[tuple[str, str], str]
    ids: dict[str, list[str]]
    link_tokens: list[str]
    qr_tokens: list[str]
    # One-click unsubscribe links the server would e-mail (kinds of other members).
    unsubscribe_tokens: list[str]
    # The links e-mailed to guests on the next-meeting list: confirmations, unsubscribes.
    guest_confirm_tokens: list[str]
    guest_unsubscribe_tokens: list[str]
    # Per operation that redeems an e-mailed account link: unspent tokens, one per request.
    account_tokens: dict[str, list[str]]
    rubric: list[str]
    cursors: dict[tuple[Any, ...], str] = field(default_factory=dict)


Pick = Callable[[list[Any], str], Any]


def _as_a_client_would(
    case: Any, pick: Pick, world: World, role: str, *, linked: bool = False
) -> None:
    """Makes a generated valid request one a client could send: what only the server can hand
    out is taken from what it handed out, and rules the schema states in words (it cannot
    compare two fields) are kept.

    - Ids in the path: the generated UUID or the id of a real row (a client sends ids it was
      given; random ones still reach the 404 path).
    - ``cursor``: one the server returned on an earlier page of the same list (filters and
      sort), or none. A cursor is opaque; one the server never issued is refused (422
      invalid-cursor), as a forged id is not found.
    - ``Idempotency-Key``: a fresh key per request. Reusing a key with another body is refused
      with 422 by design (IETF idempotency-key draft); replay has its own tests.
    - ``If-Match``: left out (it is optional). Only an ETag the server sent can match; a made-up
      one is stale by definition (412), which the ETag tests cover.
    - Signed tokens (the confirmation link, the check-in QR code, the one-click unsubscribe
      link): ones the server minted for real registrations and members. Their form is in the
      schema (so malformed ones are invalid input); a signature cannot be. E-mailed account
      links (verification, invitation, reset) are
      single use: each request takes an unspent one the server made for an account of its
      own (one nobody fuzzes as), and only when none is left a spent one (400 invalid-link).
    - The bulk invitation: either ``member_ids`` or ``all_pending``; a walk-in: either a
      ``member_id`` or a ``guest_name``, as their descriptions say.
    - A webhook receiver's URL: an https URL on a public host name. Whether an address is
      public is the SSRF guard's decision, not a shape a schema can state.
    - The CSV import: the documented header line first, then the generated text as rows.
    - Time ranges: the end after the start (``ends_at``, ``closes_at``), times that must lie
      ahead (``AHEAD``), IANA time zones, consistent survey questions, review scores for the
      rubric's criteria: the rules the descriptions state and JSON Schema cannot compare.
    - As anyone but an admin: no parameter or value the descriptions reserve for admins.
    """
    operation_id = case.operation.definition.raw.get("operationId")
    for name in list(case.path_parameters or {}):
        known = world.ids.get(name)
        if known and not linked:  # a linked step's ids come from the previous response
            case.path_parameters[name] = pick([case.path_parameters[name], *known], name)
    if role != "admin":
        _not_admin_only(case, operation_id)
    if operation_id == "notifications_unsubscribe" and case.query and "token" in case.query:
        case.query["token"] = pick(world.unsubscribe_tokens, "unsubscribe")
    if operation_id == "public_next_event_notice_unsubscribe" and case.query:
        case.query["token"] = pick(world.guest_unsubscribe_tokens, "guest unsubscribe")
    if case.query and "cursor" in case.query:
        issued = world.cursors.get(_list_key(case, role))
        if issued is None:
            del case.query["cursor"]
        else:
            case.query["cursor"] = issued
    for name in list(case.headers or {}):
        if name.lower() == "idempotency-key":
            case.headers[name] = str(uuid.uuid4())
        elif name.lower() == "if-match":
            del case.headers[name]
    body = case.body
    if isinstance(body, dict):
        if operation_id == "registrations_confirm_link":
            body["token"] = pick(world.link_tokens, "link")
        if operation_id == "public_next_event_notice_confirm":
            body["token"] = pick(world.guest_confirm_tokens, "guest confirm")
        if "qr_token" in body:
            body["qr_token"] = pick(world.qr_tokens, "qr")
        unspent = world.account_tokens.get(operation_id)
        if unspent and "token" in body:
            body["token"] = unspent.pop()
        if operation_id == "events_walk_in":  # a member, or a guest by name: one of the two
            if body.get("member_id"):
                body.pop("guest_name", None)
                body.pop("guest_email", None)
            else:
                body.pop("member_id", None)
                name = body.get("guest_name")
                if not isinstance(name, str) or not name.strip():
                    body["guest_name"] = "Walk-in guest"
        if operation_id == "members_invite_many":
            if body.get("member_ids"):
                body.pop("all_pending", None)
            else:
                body.pop("member_ids", None)
                body["all_pending"] = True
        if operation_id in {"webhooks_create", "webhooks_update"} and "url" in body:
            body["url"] = f"https://hooks.example.com/{uuid.uuid4().hex}"
        _keep_order(body, "starts_at", "ends_at")
        _keep_order(body, "opens_at", "closes_at")
        if "scores" in body and isinstance(body["scores"], dict):
            body["scores"] = {key: pick([1, 2, 3, 4, 5], key) for key in world.rubric}
        if operation_id in {"surveys_create", "surveys_update"}:
            _consistent_survey(body)
        if operation_id == "applications_decision_rule_update":
            _keep_order(body, "reject_below", "approve_at")
        if isinstance(body.get("email"), str) and "@" in body["email"]:
            local, _, domain = body["email"].rpartition("@")
            if domain.rstrip(".").rsplit(".", 1)[-1].lower() in SPECIAL_USE_DOMAINS:
                body["email"] = f"{local}@{domain.rstrip('.')}.com"
        if isinstance(body.get("time_zone"), str):
            body["time_zone"] = pick(ZONES, "time_zone")
        for name, days in AHEAD.get(operation_id, {}).items():
            if body.get(name) is not None:
                ahead = timedelta(hours=pick([1, 24, 24 * days // 2, 24 * days - 1], name))
                body[name] = (datetime.now(UTC) + ahead).isoformat()
    if operation_id == "applications_import" and isinstance(body, str):
        case.body = IMPORT_HEADER + body


# Query parameters documented as "Admins only.": a client does not send them as anyone else
# (the server refuses them with 422 field-not-filterable, which its own tests cover).
ADMIN_ONLY_QUERY = {"members_list": ("company", "email"), "applications_list": ("source",)}


def _not_admin_only(case: Any, operation_id: str) -> None:
    """Leaves out what the descriptions reserve for admins (parameters, values)."""
    for name in list(case.query or {}):
        if name in ADMIN_ONLY_QUERY.get(operation_id, ()):
            del case.query[name]
    if operation_id == "members_list":
        if case.query.get("role") not in (None, "member"):
            case.query["role"] = "member"
        if str(case.query.get("sort", "")).lstrip("-") == "company":
            del case.query["sort"]
    if (
        operation_id == "me_tokens_create"
        and isinstance(case.body, dict)
        and isinstance(case.body.get("scopes"), list)
    ):
        case.body["scopes"] = [s for s in case.body["scopes"] if s != "admin"] or ["read"]


# Times that must lie ahead of now (the descriptions say so), with how far ahead they may be.
AHEAD = {"me_tokens_create": {"expires_at": 365}, "surveys_create_express": {"closes_at": 60}}
# Time zones: any IANA name; the schema cannot list them (the list depends on the tz database).
ZONES = ["Europe/Moscow", "UTC", "Asia/Yekaterinburg", "America/New_York", "Asia/Kolkata"]
# Domains no mail reaches; the sign-up description says they are refused.
SPECIAL_USE_DOMAINS = {"arpa", "invalid", "local", "localhost", "onion", "test"}
CHOICE = {"single_choice", "multiple_choice"}
TEXT_LIMIT = {"short_text": 500, "long_text": 10_000}


def _consistent_survey(body: dict[str, Any]) -> None:
    """The rules the Question and SurveyCreate descriptions state, which a schema cannot:
    options only (and at least two, all different) for choice questions, choice counts only
    for multiple choice and within the options, text limits only for text, unique keys, a
    headline that names a rating question, edits only for named surveys."""
    questions = body.get("questions")
    for index, question in enumerate(questions if isinstance(questions, list) else []):
        kind = question.get("type")
        question["key"] = f"{question.get('key', 'q')[:30]}_{index}"
        options = list(dict.fromkeys(o.strip() for o in question.get("options") or [] if o.strip()))
        if kind in CHOICE:
            question["options"] = options if len(options) >= 2 else ["First", "Second"]
        else:
            question.pop("options", None)
        count = len(question.get("options") or [])
        if kind == "multiple_choice":
            high = min(question.get("max_choices") or count, count)
            question["max_choices"] = high
            question["min_choices"] = min(question.get("min_choices") or 1, high)
        else:
            question.pop("min_choices", None)
            question.pop("max_choices", None)
        if question.get("max_length") is not None:
            limit = TEXT_LIMIT.get(kind)
            question["max_length"] = min(question["max_length"], limit) if limit else None
    ratings = {q["key"] for q in questions or [] if q.get("type") == "rating"}
    if body.get("headline_question") is not None and (
        questions is None or body["headline_question"] not in ratings
    ):
        body.pop("headline_question")
    if body.get("anonymous", True) and body.get("allow_edit"):
        body["allow_edit"] = False
    if (
        "questions" in body
        and body.get("event_id") is None
        and body.get("audience") not in (None, "members")
    ):  # a survey without an event asks all members (its description)
        body["audience"] = "members"


IMPORT_HEADER = "email,full_name,function,seniority,industry,experience_summary\n"


def _keep_order(body: dict[str, Any], start: str, end: str) -> None:
    """Puts ``end`` after ``start`` when both are given and out of order (an hour after for
    times, equal for numbers)."""
    if isinstance(body.get(start), int | float) and isinstance(body.get(end), int | float):
        if body[start] > body[end]:
            body[start] = body[end]
        return
    if not (isinstance(body.get(start), str) and isinstance(body.get(end), str)):
        return
    try:
        first = datetime.fromisoformat(body[start])
        last = datetime.fromisoformat(body[end])
        if last <= first:
            body[end] = (first + timedelta(hours=1)).isoformat()
    except (ValueError, OverflowError, TypeError):
        return


def _list_key(case: Any, role: str) -> tuple[Any, ...]:
    """A cursor continues one list: the same operation, caller, filters and sort."""
    query = sorted(
        (k, str(v)) for k, v in (case.query or {}).items() if k not in ("cursor", "limit")
    )
    return (case.operation.label, role, str(case.path_parameters), tuple(query))


def _remember_cursor(case: Any, response: Any, world: World, role: str) -> None:
    if response.status_code != 200 or "json" not in (response.headers.get("content-type", [""])[0]):
        return
    body = response.json()
    if isinstance(body, dict) and body.get("next_cursor"):
        world.cursors[_list_key(case, role)] = body["next_cursor"]


class _RouteRefused(Exception):
    pass


# A route that refuses the caller's role answers 401 (no credentials) or 403 before reading
# anything else; once seen, more requests of that role prove nothing more, so the budget goes
# to the roles the route serves.
REFUSALS = {"anonymous": (401,), **{role: (403,) for role in ROLES[1:]}}


def _refused(response: Any) -> bool:
    body = response.json()
    return body.get("type") in {"/problems/unauthorized", "/problems/forbidden"}


def _fuzz_operation(
    operation: Any, role: str, token: str | None, mode: GenerationMode, world: World, report: Report
) -> bool:
    """Runs one operation as one role in one mode; False when the route refused the role."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    positive = mode is GenerationMode.POSITIVE

    @hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
    )
    @given(case=operation.as_strategy(generation_mode=mode), data=st.data())
    def run(case: Any, data: st.DataObject) -> None:
        if positive:
            _as_a_client_would(
                case,
                lambda options, label: data.draw(st.sampled_from(options), label=label),
                world,
                role,
            )
        report.requests += 1
        # The credentials go with the call, not into the case: the case is what was generated,
        # and the ignored-auth check re-sends it without them.
        response = case.call(headers=headers)
        report.statuses[response.status_code] = report.statuses.get(response.status_code, 0) + 1
        if not _check(
            case,
            response,
            headers,
            report,
            role,
            mode.value,
            transport_kwargs={"headers": dict(headers)},
        ):
            return
        _remember_cursor(case, response, world, role)
        if positive and response.status_code in REFUSALS.get(role, ()) and _refused(response):
            raise _RouteRefused

    try:
        run()
    except hypothesis.errors.Unsatisfiable:
        pass  # no invalid request exists: the operation takes no input
    except _RouteRefused:
        return False
    return True


def _fuzz_stateful(schema: Any, role: str, token: str, world: World, report: Report) -> None:
    """Chains of calls as one role along the inferred links, with every check, including the
    stateful ones (a deleted resource is gone, a created one can be read)."""
    headers = {"Authorization": f"Bearer {token}"}
    rng = random.Random(2026)

    class Workflow(schema.as_state_machine()):  # type: ignore[misc]
        def before_call(self, case: Any) -> None:
            _as_a_client_would(
                case, lambda options, label: rng.choice(options), world, role, linked=True
            )

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": headers}

        def validate_response(
            self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any
        ) -> None:
            report.requests += 1
            report.statuses[response.status_code] = report.statuses.get(response.status_code, 0) + 1
            if _check(
                case,
                response,
                headers,
                report,
                role,
                "stateful",
                recorder=getattr(self, "recorder", None),
                transport_kwargs=kwargs,
            ):
                _remember_cursor(case, response, world, role)

    try:
        Workflow.run(
            settings=hypothesis.settings(
                max_examples=SCENARIOS,
                stateful_step_count=STEPS,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
                phases=[Phase.generate],
            )
        )
    except hypothesis.errors.FlakyStrategyDefinition:
        # Scenarios share one database, so a step's links can differ when hypothesis replays a
        # prefix (the first run created what the replay finds). Hypothesis then stops this
        # role's exploration; every response received was checked already.
        logging.getLogger("contract_fuzz").info(
            "stateful run for %s ended early: the data moved on between scenarios", role
        )


def _check(
    case: Any,
    response: Any,
    headers: dict[str, str],
    report: Report,
    role: str,
    where: str,
    **kwargs: Any,
) -> bool:
    """Runs every check on one response; records the failures. True when all passed."""
    try:
        case.validate_response(
            response, headers=headers, additional_checks=[problem_json], **kwargs
        )
    except FailureGroup as group:
        failures = list(group.exceptions)
        for failure in failures:
            report.add(
                f"{where} {case.operation.label}",
                role,
                failure.title,
                f"{failure.message}\n    {case.as_curl_command()}"
                f"\n    -> {response.status_code} {response.text[:300]}",
            )
        return not failures
    except AssertionError as error:
        report.add(
            f"{where} {case.operation.label}",
            role,
            "problem+json",
            f"{error}\n    {case.as_curl_command()}",
        )
        return False
    return True


async def _world(engine: AsyncEngine, app: Any) -> World:
    settings = app.state.settings
    await load_demo(settings)
    maker = async_sessionmaker(engine, expire_on_commit=False)
    async with maker() as session:
        members = dict((await session.execute(select(Member.email, Member.id))).all())
        roles: dict[uuid.UUID, list[str]] = {}
        for member_id, role in (
            await session.execute(select(MemberRole.member_id, MemberRole.role))
        ).all():
            roles.setdefault(member_id, []).append(str(role))
        actors = {
            "applicant": members["applicant1@example.com"],
            "member": next(i for i, r in roles.items() if r == ["member"]),
            "reviewer": members["reviewer1@example.com"],
            "facilitator": members["facilitator1@example.com"],
            "admin": members["admin@example.com"],
        }
        tokens: dict[str, str | None] = {"anonymous": None}
        for role, member_id in actors.items():
            tokens[role] = app.state.token_codec.issue(member_id, roles[member_id], 0)
        spare_tokens = {}
        for role, member_id in actors.items():
            for operation_id in SELF_ENDING:
                email = f"{role}-{operation_id}@example.com"
                spare = Member(email=email, email_normalized=email, full_name=role.title())
                session.add(spare)
                await session.flush()
                session.add_all(MemberRole(member_id=spare.id, role=r) for r in roles[member_id])
                spare_tokens[(role, operation_id)] = app.state.token_codec.issue(
                    spare.id, roles[member_id], 0
                )
        account_tokens = await _account_links(session, settings)
        # Guests on the next-meeting list, at addresses the fuzz's own requests do not use:
        # some whose links confirm, others whose links take them off the list.
        addresses = [f"guest-{n}@fuzz.example.org" for n in range(6)]
        guests = [NextEventGuest(email=a, email_key=a) for a in addresses]
        session.add_all(guests)
        await session.flush()
        guest_confirm_tokens = [guest_confirm_token(settings, g) for g in guests[:3]]
        guest_unsubscribe_tokens = [guest_unsubscribe_token(settings, g.id) for g in guests[3:]]
        await session.commit()

        async def ids_of(column: Any, *order: Any) -> list[str]:
            # In an order the demo data fixes (not by the random ids), so that the same rows
            # are drawn on every run.
            query = select(column).order_by(*order, column).limit(20)
            return [str(value) for value in (await session.execute(query)).scalars()]

        ids = {
            "event_id": await ids_of(Event.id, Event.starts_at),
            "registration_id": await ids_of(Registration.id, Registration.created_at),
            "application_id": await ids_of(Application.id, Application.created_at),
            "review_id": await ids_of(Review.id),
            "case_id": await ids_of(Case.id, Case.title),
            "recommendation_id": await ids_of(Recommendation.id, Recommendation.created_at),
            "survey_id": await ids_of(Survey.id, Survey.title),
            "subscription_id": await ids_of(WebhookSubscription.id),
            "delivery_id": await ids_of(Delivery.id),
            "token_id": await ids_of(ApiToken.id),
            "run_id": await ids_of(CrmSyncRun.id),
        }
        # Never the callers themselves: an admin fuzzing roles must not demote its own token.
        callers = set(actors.values())
        others = [str(i) for email, i in sorted(members.items()) if i not in callers][:20]
        ids["member_id"] = ids["member_a"] = ids["member_b"] = others
        registrations = list(
            (
                await session.execute(
                    select(Registration)
                    .order_by(Registration.created_at, Registration.id)
                    .limit(20)
                )
            ).scalars()
        )
        now = datetime.now(UTC)
        link_tokens = [confirmation_link_token(settings, r, now) for r in registrations]
        qr_tokens = [qr_token(settings, r) for r in registrations]
        unsubscribe_tokens = [
            unsubscribe_token(settings, uuid.UUID(member_id), kind)
            for member_id in others[:5]
            for kind in OPTIONAL_KINDS
        ]
        rubric = list((await session.execute(select(RubricCriterion.key))).scalars())
    return World(
        tokens=tokens,
        spare_tokens=spare_tokens,
        ids=ids,
        link_tokens=link_tokens,
        qr_tokens=qr_tokens,
        unsubscribe_tokens=unsubscribe_tokens,
        guest_confirm_tokens=guest_confirm_tokens,
        guest_unsubscribe_tokens=guest_unsubscribe_tokens,
        account_tokens=account_tokens,
        rubric=rubric,
    )


# The operations that redeem an e-mailed link, and the kind each redeems.
ACCOUNT_LINK_OPERATIONS = {
    "auth_verify_email": LinkPurpose.verify_email,
    "auth_invitation_accept": LinkPurpose.invitation,
    "auth_password_reset_confirm": LinkPurpose.password_reset,
}
LINKS_PER_OPERATION = 60  # more than the positive cases of one operation over every role


async def _account_links(session: Any, settings: Any) -> dict[str, list[str]]:
    """Unspent links, each for an account of its own: redeeming one (a new password ends the
    account's sessions) touches nobody the fuzz signs in as."""
    now = datetime.now(UTC)
    tokens: dict[str, list[str]] = {}
    for operation_id, purpose in ACCOUNT_LINK_OPERATIONS.items():
        tokens[operation_id] = []
        for i in range(LINKS_PER_OPERATION):
            email = f"link-{purpose.value}-{i}@example.com"
            person = Member(email=email, email_normalized=email, full_name=f"Link {i}")
            session.add(person)
            await session.flush()
            link = await links.issue(session, settings, person, purpose, now)
            tokens[operation_id].append(links.token_of(settings, link))
    return tokens


async def test_contract_fuzz(engine: AsyncEngine) -> None:
    await truncate_all(engine)
    # Its own app on committing sessions; no in-process worker (deliveries are not the point);
    # access tokens that outlive a deep run.
    app = create_app(make_settings(worker_in_process=False, access_token_minutes=24 * 60))
    world = await _world(engine, app)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    report = Report()
    started = time.monotonic()
    operations = [result.ok() for result in schema.get_all_operations()]
    async with seeded_tables_kept(engine):
        await _fuzz(engine, world, schema, operations, report)
    elapsed = time.monotonic() - started
    summary = (
        f"{len(operations)} operations x {len(ROLES)} roles, {EXAMPLES} examples each: "
        f"{report.stateless} requests; stateful, {SCENARIOS} scenarios of up to {STEPS} "
        f"steps per signed-in role: {report.requests - report.stateless} requests; "
        f"{elapsed:.0f} s; statuses {sorted(report.statuses.items())}"
    )
    logging.getLogger("contract_fuzz").info(summary)
    lines = [
        f"{label} as {role}: {title}\n    {detail}"
        for (label, role, title), detail in sorted(report.failures.items())
    ]
    assert not lines, f"{summary}\n{len(lines)} contract failures:\n" + "\n".join(lines)


async def _fuzz(
    engine: AsyncEngine, world: World, schema: Any, operations: list[Any], report: Report
) -> None:
    try:
        for operation in operations:
            operation_id = operation.definition.raw["operationId"]
            for role in ROLES:
                token = world.tokens[role]
                if token and operation_id in SELF_ENDING:
                    token = world.spare_tokens[(role, operation_id)]
                for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                    if not _fuzz_operation(operation, role, token, mode, world, report):
                        break
        report.stateless = report.requests
        for role in ROLES[1:]:
            token = world.tokens[role]
            assert token is not None
            _fuzz_stateful(schema, role, token, world, report)
    finally:
        asgi.shutdown_lifespans()
        await truncate_all(engine)
