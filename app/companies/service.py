"""Company aliases: kept by admins, applied wherever colleagues must not be paired."""

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.companies import repository
from app.companies.names import Aliases, normalize_company
from app.companies.schemas import CompanyAliases, CompanyAliasesUpdate, CompanyAliasRead
from app.core import audit
from app.core.context import RequestContext
from app.core.errors import InvalidInput
from app.models.company import CompanyAlias


async def alias_map(session: AsyncSession) -> Aliases:
    """The kept aliases, ready for ``normalize_company``."""
    return {a.alias_key: a.company_key for a in await repository.all_aliases(session)}


async def resolver(session: AsyncSession) -> Callable[[str | None], str | None]:
    """A name -> the name of the company it stands for (itself unless an alias): for code
    that hands names on to the pure rules, which compare them with ``normalize_company``."""
    by_key = {a.alias_key: a.company for a in await repository.all_aliases(session)}

    def resolve(name: str | None) -> str | None:
        key = normalize_company(name)
        return by_key.get(key, name) if key is not None else name

    return resolve


def _read(alias: CompanyAlias) -> CompanyAliasRead:
    return CompanyAliasRead.model_validate(alias)


async def list_aliases(session: AsyncSession) -> CompanyAliases:
    return CompanyAliases(aliases=[_read(a) for a in await repository.all_aliases(session)])


async def replace_aliases(
    session: AsyncSession, *, admin: Principal, context: RequestContext, data: CompanyAliasesUpdate
) -> CompanyAliases:
    """Replace the table. Refused (422) when a name has no key (only a legal form), an alias
    is already its company by the rules, one alias names two companies, or an alias's company
    is itself an alias (a chain: name the final company instead)."""
    rows: dict[str, CompanyAlias] = {}
    for i, item in enumerate(data.aliases):
        alias_key, company_key = normalize_company(item.alias), normalize_company(item.company)
        if alias_key is None or company_key is None:
            raise InvalidInput(f"aliases[{i}]: a name with nothing but a legal form in it.")
        if alias_key == company_key:
            raise InvalidInput(f"aliases[{i}]: '{item.alias}' is '{item.company}' already.")
        known = rows.get(alias_key)
        if known is not None and known.company_key != company_key:
            raise InvalidInput(f"aliases[{i}]: '{item.alias}' names two companies.")
        rows[alias_key] = CompanyAlias(
            alias=item.alias, company=item.company, alias_key=alias_key, company_key=company_key
        )
    chained = sorted(k for k, row in rows.items() if row.company_key in rows)
    if chained:
        raise InvalidInput(
            f"An alias's company is itself an alias ({', '.join(chained[:5])}): name the company."
        )
    await repository.replace_aliases(session, list(rows.values()))
    audit.record(
        session,
        actor_id=admin.id,
        action="companies.aliases_replaced",
        target_type="company_alias",
        target_id=None,
        context=context,
        details={"count": len(rows)},
    )
    return await list_aliases(session)
