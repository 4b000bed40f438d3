"""/api/v1/companies/aliases: the names no rule can tell are one company (admins)."""

from fastapi import APIRouter

from app.auth.permissions import AdminPrincipal
from app.companies import service
from app.companies.schemas import CompanyAliases, CompanyAliasesUpdate
from app.core.context import ContextDep
from app.core.db import SessionDep
from app.core.errors import problem_responses

router = APIRouter(prefix="/companies", tags=["companies"])


@router.get(
    "/aliases",
    response_model=CompanyAliases,
    responses=problem_responses(401, 403),
    operation_id="companies_aliases_get",
)
async def get_aliases(admin: AdminPrincipal, session: SessionDep) -> CompanyAliases:
    """The kept aliases ("Сбер" is "Сбербанк"), with the keys they compare by. Legal forms,
    quotes, punctuation and Cyrillic or Latin spelling need none. Admins only."""
    return await service.list_aliases(session)


@router.put(
    "/aliases",
    response_model=CompanyAliases,
    responses=problem_responses(401, 403, 413, 422),
    operation_id="companies_aliases_put",
)
async def put_aliases(
    body: CompanyAliasesUpdate, admin: AdminPrincipal, session: SessionDep, context: ContextDep
) -> CompanyAliases:
    """Replace the aliases. Seating and reviewer assignment use them from the next run on.
    Admins only."""
    return await service.replace_aliases(session, admin=admin, context=context, data=body)
