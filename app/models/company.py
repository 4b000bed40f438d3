"""Company aliases: names no rule can tell are one company ("Сбер" is "Сбербанк"), kept by
admins and used wherever colleagues must not be paired."""

import uuid
from datetime import datetime

from sqlalchemy import String
from sqlmodel import Field, SQLModel

from app.models.base import created_at_field, uuid_pk


class CompanyAlias(SQLModel, table=True):
    __tablename__ = "company_alias"

    id: uuid.UUID = uuid_pk()
    alias: str = Field(sa_type=String(200))
    company: str = Field(sa_type=String(200))
    # The names' comparison keys (app.companies.names.normalize_company), kept with them.
    alias_key: str = Field(sa_type=String(200), unique=True)
    company_key: str = Field(sa_type=String(200))
    created_at: datetime = created_at_field()
