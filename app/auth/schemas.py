import uuid
from datetime import datetime

from pydantic import EmailStr, Field

from app.auth.principal import Scope
from app.core.schemas import InputSchema, ReadSchema, UTCTimestamp

PASSWORD_MIN = 10
PASSWORD_MAX = 128  # Argon2 has no length limit, but an unbounded input is a DoS lever


class SignupRequest(InputSchema):
    email: EmailStr = Field(
        max_length=254,
        description="On a public domain: special-use ones (.test, .invalid, "
        ".local, .localhost, .onion, .arpa) receive no mail.",
    )
    password: str = Field(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)
    full_name: str = Field(min_length=1, max_length=200)

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "email": "anna@example.com",
                    "password": "correct horse battery",
                    "full_name": "Anna Petrova",
                }
            ]
        }
    }


class LoginRequest(InputSchema):
    email: str = Field(min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=PASSWORD_MAX)

    model_config = {
        "json_schema_extra": {
            "examples": [{"email": "anna@example.com", "password": "correct horse battery"}]
        }
    }


class RefreshRequest(InputSchema):
    refresh_token: str = Field(min_length=1, max_length=200)

    model_config = {"json_schema_extra": {"examples": [{"refresh_token": "Zq3...opaque"}]}}


class PasswordChangeRequest(InputSchema):
    current_password: str = Field(min_length=1, max_length=PASSWORD_MAX)
    new_password: str = Field(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "current_password": "correct horse battery",
                    "new_password": "another long passphrase",
                }
            ]
        }
    }


class Revocation(ReadSchema):
    sessions_revoked: int = Field(description="Refresh tokens (logins) that were ended.")
    api_tokens_revoked: int = Field(description="Personal API tokens that stopped working.")


class Accepted(ReadSchema):
    """The same answer whatever the address: nobody learns from it whether one is registered."""

    status: str = "accepted"
    detail: str = Field(
        description="What happens next (the same text for every address).",
    )


class TokenBody(InputSchema):
    token: str = Field(
        min_length=1, max_length=200, description="The `token` query parameter of the link."
    )

    model_config = {"json_schema_extra": {"examples": [{"token": "mX2f9...from-the-link"}]}}


class TokenAndPassword(InputSchema):
    token: str = Field(
        min_length=1, max_length=200, description="The `token` query parameter of the link."
    )
    password: str = Field(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)

    model_config = {
        "json_schema_extra": {
            "examples": [{"token": "mX2f9...from-the-link", "password": "correct horse battery"}]
        }
    }


class PasswordResetRequest(InputSchema):
    email: str = Field(min_length=1, max_length=254)

    model_config = {"json_schema_extra": {"examples": [{"email": "anna@example.com"}]}}


class EmailVerified(ReadSchema):
    email: str
    email_verified_at: UTCTimestamp


class TokenPair(ReadSchema):
    access_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="Lifetime of the access token in seconds.")
    refresh_token: str


class ApiTokenCreate(InputSchema):
    name: str = Field(min_length=1, max_length=100)
    scopes: list[Scope] = Field(
        min_length=1, max_length=len(Scope), description="`admin`: admins only."
    )
    expires_at: datetime | None = Field(
        default=None,
        description="When the token stops working: in the future, at most a year ahead.",
    )

    model_config = {
        "json_schema_extra": {
            "examples": [
                {"name": "weekly export", "scopes": ["read"], "expires_at": "2027-06-30T00:00:00Z"}
            ]
        }
    }


class ApiTokenRead(ReadSchema):
    id: uuid.UUID
    name: str
    prefix: str
    scopes: list[str]
    created_at: UTCTimestamp
    expires_at: UTCTimestamp | None
    revoked_at: UTCTimestamp | None
    last_used_at: UTCTimestamp | None


class ApiTokenCreated(ApiTokenRead):
    token: str = Field(description="The secret, shown this once; only its hash is kept.")
