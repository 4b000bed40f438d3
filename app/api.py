"""/api/v1: the public routers (sign-up, login, refresh) and the authenticated-by-default ones.

Each domain router is mounted on the app directly (not through an intermediate router): every
level of nesting is one more routing pass per request. Importing every area here also
registers each area's followers (``app.core.followers``) before the first request.

Routing tries the routers in the order they are mounted, every route of each router passed
over (about 2 us a route): the event day's routers are mounted first (``BUSIEST_FIRST``), so a
confirmation is matched in 50 us instead of 300. The order decides nothing else: no path is
claimed by routes of two routers (``tests/test_routing_order.py``).
"""

from fastapi import APIRouter, Depends, FastAPI

from app.applications.router import router as applications_router
from app.audit.router import router as audit_router
from app.auth.permissions import current_principal
from app.auth.router import public_router as auth_public_router
from app.auth.router import router as auth_router
from app.cases.router import me_router as cases_me_router
from app.cases.router import router as cases_router
from app.companies.router import router as companies_router
from app.core.query import single_valued_query
from app.events.router import public_router as events_public_router
from app.events.router import router as events_router
from app.integrations.bitrix24.router import public_router as bitrix24_public_router
from app.integrations.bitrix24.router import router as bitrix24_router
from app.integrations.timepad.router import public_router as timepad_public_router
from app.integrations.timepad.router import router as timepad_router
from app.members.router import me_router
from app.members.router import public_router as members_public_router
from app.members.router import router as members_router
from app.registrations.router import calendar_router
from app.registrations.router import me_router as registrations_me_router
from app.registrations.router import public_router as registrations_public_router
from app.registrations.router import router as registrations_router
from app.reviews.router import applications_router as review_applications_router
from app.reviews.router import router as reviews_router
from app.surveys.router import router as surveys_router
from app.tables.router import router as tables_router
from app.webhooks.router import router as webhooks_router

API_PREFIX = "/api/v1"

PUBLIC_ROUTERS: list[APIRouter] = [
    auth_public_router,
    events_public_router,
    registrations_public_router,
    calendar_router,
    members_public_router,
    timepad_public_router,
    bitrix24_public_router,
]
# Every route of these demands a valid principal; a route added later is protected by default.
AUTHENTICATED_ROUTERS: list[APIRouter] = [
    auth_router,
    me_router,
    members_router,
    companies_router,
    audit_router,
    applications_router,
    review_applications_router,  # /applications/{id}/reviews and assignments
    reviews_router,
    events_router,
    registrations_router,
    registrations_me_router,
    tables_router,
    cases_router,
    cases_me_router,
    surveys_router,
    webhooks_router,
    bitrix24_router,
    timepad_router,
]


# What members do most on an event day (register, confirm, look each other up, see their
# table), then the Timepad webhook; every other router after them, in the lists' order. Each
# is one of the lists' routers (``tests/test_routing_order.py``).
BUSIEST_FIRST: list[APIRouter] = [
    registrations_router,
    members_router,
    me_router,
    events_router,
    registrations_me_router,
    tables_router,
    timepad_public_router,
]


def include_api(app: FastAPI, *more_authenticated: APIRouter) -> None:
    """Mount the routers, ``BUSIEST_FIRST`` first; ``more_authenticated`` are routers of sibling
    floors this module may not import (the worker's job list), handed in by ``app.main`` and
    protected the same way."""
    # Authentication first: an anonymous caller learns nothing about the route's parameters.
    query = Depends(single_valued_query)
    routers = [*PUBLIC_ROUTERS, *AUTHENTICATED_ROUTERS, *more_authenticated]
    for router in BUSIEST_FIRST + [router for router in routers if router not in BUSIEST_FIRST]:
        if router in PUBLIC_ROUTERS:
            app.include_router(router, prefix=API_PREFIX, dependencies=[query])
        else:
            app.include_router(
                router, prefix=API_PREFIX, dependencies=[Depends(current_principal), query]
            )
