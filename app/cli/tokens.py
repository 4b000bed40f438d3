"""`dl tokens`: personal API tokens for scripts and CI. Each command logs in with the password
(see app.cli.auth: a token may not manage tokens) on the profile's deployment."""

from typing import Annotated

import typer
from rich.markup import escape

from app.cli.auth import (
    EmailOption,
    PasswordOption,
    ask_credentials,
    create_token,
    login_session,
    profile_url_and_email,
)
from app.cli.common import JsonOption
from app.cli.output import Output, columns

app = typer.Typer(
    name="tokens", help="Personal API tokens: list, create, revoke.", no_args_is_help=True
)

TOKEN_COLUMNS = columns(
    "id", "name", "prefix", "scopes", "created_at", "expires_at", "last_used_at", "revoked_at"
)


@app.command("list")
def list_tokens(
    ctx: typer.Context,
    email: EmailOption = None,
    password: PasswordOption = None,
    as_json: JsonOption = False,
) -> None:
    """My tokens (never their secrets)."""
    out = Output(as_json)
    url, known_email = profile_url_and_email(ctx)
    email, password = ask_credentials(email, password, known_email)
    with login_session(url, email, password) as session:
        tokens = session.get("/me/tokens")
    out.result(tokens, lambda: out.table(tokens, TOKEN_COLUMNS))


@app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="What the token is for, e.g. 'weekly export'.")],
    scopes: Annotated[
        list[str] | None,
        typer.Option(
            "--scope", "-s", help="read, write or admin; repeat for several (default: read)."
        ),
    ] = None,
    expires_days: Annotated[
        int | None,
        typer.Option(
            "--expires-days", min=1, max=365, help="Expire after this many days (default: never)."
        ),
    ] = None,
    email: EmailOption = None,
    password: PasswordOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a token; its secret is printed this once."""
    out = Output(as_json)
    chosen = sorted(set(scopes or ["read"]))
    unknown = [s for s in chosen if s not in ("read", "write", "admin")]
    if unknown:
        raise typer.BadParameter(f"unknown scope {', '.join(unknown)}", param_hint="--scope")
    url, known_email = profile_url_and_email(ctx)
    email, password = ask_credentials(email, password, known_email)
    with login_session(url, email, password) as session:
        created = create_token(session, name=name, scopes=chosen, expires_days=expires_days)

    def human() -> None:
        out.say(
            f"Created token [bold]{escape(created['name'])}[/] ({created['id']}), scopes "
            f"{', '.join(created['scopes'])}. Its secret, shown only now:"
        )
        # The secret alone on its own line, unstyled, so it can be copied or captured.
        print(created["token"])

    out.result(created, human)


@app.command("revoke")
def revoke(
    ctx: typer.Context,
    token_id: Annotated[str, typer.Argument(help="The token's id (see `dl tokens list`).")],
    email: EmailOption = None,
    password: PasswordOption = None,
) -> None:
    """Revoke a token: it stops working at once."""
    out = Output()
    url, known_email = profile_url_and_email(ctx)
    email, password = ask_credentials(email, password, known_email)
    with login_session(url, email, password) as session:
        session.delete(f"/me/tokens/{token_id}")
    out.say(f"Revoked token {token_id}.")
