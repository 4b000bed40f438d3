"""Shapes of /api/v1/companies."""

from pydantic import Field

from app.core.schemas import InputSchema, ReadSchema

MAX_ALIASES = 1000


class CompanyAliasItem(InputSchema):
    alias: str = Field(min_length=1, max_length=200, description="The name as people write it.")
    company: str = Field(min_length=1, max_length=200, description="The company it stands for.")


class CompanyAliasesUpdate(InputSchema):
    """The whole table of aliases (it replaces the one kept)."""

    aliases: list[CompanyAliasItem] = Field(max_length=MAX_ALIASES)

    model_config = {
        "json_schema_extra": {"examples": [{"aliases": [{"alias": "Сбер", "company": "Сбербанк"}]}]}
    }


class CompanyAliasRead(ReadSchema):
    alias: str
    company: str
    alias_key: str = Field(description="How the alias compares (legal form, quotes, script gone).")
    company_key: str


class CompanyAliases(ReadSchema):
    aliases: list[CompanyAliasRead]
