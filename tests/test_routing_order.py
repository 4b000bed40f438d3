"""The order the routers are mounted in (``app.api.BUSIEST_FIRST``) is speed only: no path is
claimed by routes of two routers, so whichever router routing tries first, every request
reaches the same route."""

import re

from fastapi import APIRouter
from starlette.routing import compile_path

from app.api import AUTHENTICATED_ROUTERS, BUSIEST_FIRST, PUBLIC_ROUTERS
from app.main import create_app
from app.worker.router import router as jobs_router
from tests.conftest import make_settings

_PARAMETER = re.compile(r"{[^}]+}")


def _routes(router: APIRouter) -> list[tuple[str, str]]:
    return [(method, route.path) for route in router.routes for method in route.methods or ()]


def test_no_path_is_claimed_by_two_routers():
    routers = [*PUBLIC_ROUTERS, *AUTHENTICATED_ROUTERS, jobs_router]
    claims = []
    for number, router in enumerate(routers):
        for method, path in _routes(router):
            # A path of the route's own shape, each parameter a value no literal segment has.
            sample = _PARAMETER.sub("sample-value", path)
            for other_number, other in enumerate(routers):
                if other_number == number:
                    continue  # within a router, the order written is the order routed
                for other_method, other_path in _routes(other):
                    pattern = compile_path(other_path)[0]
                    if other_method == method and pattern.match(sample):
                        claims.append(f"{method} {path} is also {other_path}")
    assert claims == []


def test_the_busiest_routers_are_tried_first_and_every_router_once():
    app = create_app(make_settings())
    mounted = [getattr(route, "original_router", None) for route in app.router.routes]
    mounted = [router for router in mounted if router is not None]
    busiest = [mounted.index(router) for router in BUSIEST_FIRST]
    assert busiest == sorted(busiest)
    api = [*PUBLIC_ROUTERS, *AUTHENTICATED_ROUTERS, jobs_router]
    assert sorted(map(id, api)) == sorted(id(router) for router in mounted if router in api)
    rest = [mounted.index(router) for router in api if router not in BUSIEST_FIRST]
    assert max(busiest) < min(rest)
