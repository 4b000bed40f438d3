"""/api/v1/events/{id}/seating and /api/v1/events/{id}/tables: admins generate, adjust and
publish the seating; members see their own table."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from app.auth.permissions import AdminPrincipal, PrincipalDep, require
from app.auth.principal import Principal
from app.core.context import ContextDep
from app.core.db import SessionDep
from app.core.errors import problem_responses
from app.core.responses import NOT_MODIFIED, IfMatch, json_response, tagged_response
from app.core.schemas import StrictUUID
from app.models.member import Role
from app.tables import service
from app.tables.schemas import (
    EventMessageCreate,
    EventMessagePreview,
    EventMessageRead,
    KeepApartCreate,
    MyTableRead,
    PinSet,
    SeatingOptions,
    SeatingPlanRead,
    SeatingRules,
    SeatMove,
    SeatSwap,
    TableList,
)

router = APIRouter(prefix="/events/{event_id}", tags=["seating"])

CHANGE_PROBLEMS = problem_responses(401, 403, 404, 409, 412, 413, 422)


@router.post(
    "/seating",
    status_code=status.HTTP_201_CREATED,
    response_model=SeatingPlanRead,
    responses=problem_responses(401, 403, 404, 409, 413, 422),
    operation_id="seating_generate",
)
async def generate_seating(
    event_id: StrictUUID,
    body: SeatingOptions,
    admin: AdminPrincipal,
    session: SessionDep,
    context: ContextDep,
) -> Response:
    """Draft a seating of the confirmed and checked-in attendees with the solver, from the
    pair history of earlier published seatings; with `rounds` the tables rotate and all
    rounds are planned together. 409 names the rule when none is possible."""
    plan = await service.generate(
        session, admin=admin, context=context, event_id=event_id, options=body
    )
    return json_response(plan, status_code=status.HTTP_201_CREATED)


@router.get(
    "/seating",
    response_model=SeatingPlanRead,
    responses={**problem_responses(401, 403, 404, 422), **NOT_MODIFIED},
    operation_id="seating_get",
)
async def get_seating(
    event_id: StrictUUID, admin: AdminPrincipal, session: SessionDep, request: Request
) -> Response:
    """The plan being worked on (the draft, else the published one) with its metrics and each
    table's score and reasons (ETag)."""
    return tagged_response(await service.current(session, event_id), request)


@router.post(
    "/seating/moves",
    response_model=SeatingPlanRead,
    responses=CHANGE_PROBLEMS,
    operation_id="seating_move",
)
async def move_seat(
    event_id: StrictUUID,
    body: SeatMove,
    admin: AdminPrincipal,
    session: SessionDep,
    if_match: IfMatch = None,
) -> Response:
    """Move a member to another table in one round (`round`, 1 by default). Every round is
    checked again: a hard-rule break is a 409 naming the rule and the round; changing a
    published plan starts a draft from it."""
    return json_response(
        await service.move(
            session,
            admin=admin,
            event_id=event_id,
            member_id=body.member_id,
            table=body.table,
            if_match=if_match,
            round_number=body.round,
        )
    )


@router.post(
    "/seating/swaps",
    response_model=SeatingPlanRead,
    responses=CHANGE_PROBLEMS,
    operation_id="seating_swap",
)
async def swap_seats(
    event_id: StrictUUID,
    body: SeatSwap,
    admin: AdminPrincipal,
    session: SessionDep,
    if_match: IfMatch = None,
) -> Response:
    """Swap two members' tables in one round, under the same rules as a move."""
    return json_response(
        await service.swap(
            session,
            admin=admin,
            event_id=event_id,
            member_id=body.member_id,
            other_id=body.other_member_id,
            if_match=if_match,
            round_number=body.round,
        )
    )


@router.post(
    "/seating/publish",
    response_model=SeatingPlanRead,
    responses=CHANGE_PROBLEMS,
    operation_id="seating_publish",
)
async def publish_seating(
    event_id: StrictUUID,
    admin: AdminPrincipal,
    session: SessionDep,
    context: ContextDep,
    if_match: IfMatch = None,
) -> Response:
    """Publish the plan, every round at once: the event's tables are (re)created per round,
    cases are scheduled to their authors' tables in their rounds, the pairs enter the
    history and `seating.published` is emitted."""
    return json_response(
        await service.publish(
            session, admin=admin, context=context, event_id=event_id, if_match=if_match
        )
    )


@router.get(
    "/seating/rules",
    response_model=SeatingRules,
    responses=problem_responses(401, 403, 404),
    operation_id="seating_rules",
)
async def seating_rules(
    event_id: StrictUUID, admin: AdminPrincipal, session: SessionDep
) -> Response:
    """The event's pins and pairs kept apart."""
    return json_response(await service.rules(session, event_id))


@router.put(
    "/seating/pins/{member_id}",
    response_model=SeatingRules,
    responses=CHANGE_PROBLEMS,
    operation_id="seating_pin",
)
async def pin_member(
    event_id: StrictUUID,
    member_id: StrictUUID,
    body: PinSet,
    admin: AdminPrincipal,
    session: SessionDep,
) -> Response:
    """Pin a member to a table in every plan; the plan being worked on is adjusted (a move,
    or a swap at that table) or the pin is refused with the rule it would break."""
    return json_response(
        await service.pin(
            session, admin=admin, event_id=event_id, member_id=member_id, table=body.table
        )
    )


@router.delete(
    "/seating/pins/{member_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 403, 404, 422),
    operation_id="seating_unpin",
)
async def unpin_member(
    event_id: StrictUUID, member_id: StrictUUID, admin: AdminPrincipal, session: SessionDep
) -> Response:
    """Remove a pin."""
    await service.unpin(session, event_id=event_id, member_id=member_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/seating/keep-apart",
    response_model=SeatingRules,
    responses=CHANGE_PROBLEMS,
    operation_id="seating_keep_apart",
)
async def keep_apart(
    event_id: StrictUUID, body: KeepApartCreate, admin: AdminPrincipal, session: SessionDep
) -> Response:
    """Never seat these two together at this event; a plan doing so is adjusted."""
    return json_response(
        await service.add_keep_apart(session, admin=admin, event_id=event_id, body=body)
    )


@router.delete(
    "/seating/keep-apart/{member_a}/{member_b}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 403, 404, 422),
    operation_id="seating_keep_apart_remove",
)
async def remove_keep_apart(
    event_id: StrictUUID,
    member_a: StrictUUID,
    member_b: StrictUUID,
    admin: AdminPrincipal,
    session: SessionDep,
) -> Response:
    """Let two members sit together again."""
    await service.remove_keep_apart(
        session, event_id=event_id, member_a=member_a, member_b=member_b
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/tables",
    response_model=TableList,
    responses=problem_responses(401, 403, 404, 422),
    operation_id="tables_list",
)
async def list_tables(
    event_id: StrictUUID, admin: AdminPrincipal, session: SessionDep, context: ContextDep
) -> Response:
    """Every published table of the event, round by round, with its roster and cases. Admins
    only."""
    return json_response(
        TableList(
            items=await service.event_tables(
                session, admin=admin, context=context, event_id=event_id
            )
        )
    )


@router.get(
    "/tables/mine",
    response_model=MyTableRead,
    responses=problem_responses(401, 404, 422),
    operation_id="tables_mine",
)
async def my_table(
    event_id: StrictUUID, principal: PrincipalDep, session: SessionDep, context: ContextDep
) -> Response:
    """My table at the event (the first round's; `rounds` lists my table in every round):
    my table-mates (private fields as each consented, the "table"
    level included) and its cases as their visibility allows; its facilitator sees every
    case at it."""
    return json_response(
        await service.my_table(session, principal=principal, context=context, event_id=event_id)
    )


StaffPrincipal = Annotated[Principal, Depends(require(Role.facilitator, Role.admin))]


@router.post(
    "/messages/preview",
    response_model=EventMessagePreview,
    responses=problem_responses(401, 403, 404, 413, 422),
    operation_id="event_messages_preview",
)
async def preview_message(
    event_id: StrictUUID, body: EventMessageCreate, staff: StaffPrincipal, session: SessionDep
) -> EventMessagePreview:
    """How many people a message would reach now (nothing is sent): an admin writes to the
    event's people, a facilitator to their own tables; opt-outs are left out."""
    return await service.preview_message(session, principal=staff, event_id=event_id, data=body)


@router.post(
    "/messages",
    status_code=status.HTTP_201_CREATED,
    response_model=EventMessageRead,
    responses=problem_responses(401, 403, 404, 409, 413, 422),
    operation_id="event_messages_send",
)
async def send_message(
    event_id: StrictUUID,
    body: EventMessageCreate,
    staff: StaffPrincipal,
    session: SessionDep,
    context: ContextDep,
) -> Response:
    """Send a message to the event's confirmed, waitlisted or checked-in people (a
    facilitator: to the people at their tables). Queued through the outbox, one e-mail each,
    logged; never to anyone who turned organisers' messages off (409 when that leaves nobody)."""
    message = await service.send_message(
        session, principal=staff, context=context, event_id=event_id, data=body
    )
    return json_response(message, status_code=status.HTTP_201_CREATED)
