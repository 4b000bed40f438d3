"""`dl login`, `dl logout`, `dl whoami`, and the login session that managing tokens needs.

The API lets no personal token mint or revoke tokens (a leaked token cannot entrench itself),
so creating or revoking one takes the account's e-mail and password: `dl` logs in, does the
one thing, and logs that session out again at once. What is stored is the personal token only,
never the password or a refresh token.
"""

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from rich.markup import escape

from app.cli import config
from app.cli.client import ApiClient, ApiError
from app.cli.common import JsonOption, UsageProblem, connect, state
from app.cli.output import Output

DEFAULT_URL = "http://127.0.0.1:8000"

PasswordOption = Annotated[
    str | None,
    typer.Option(
        "--password",
        envvar="DL_PASSWORD",
        show_envvar=True,
        help="Asked for when not given (hidden).",
    ),
]
EmailOption = Annotated[str | None, typer.Option("--email", help="Asked for when not given.")]


@contextmanager
def login_session(url: str, email: str, password: str) -> Iterator[ApiClient]:
    """A client on a fresh login session, logged out when the block ends."""
    with ApiClient(url) as anonymous:
        pair = anonymous.post("/auth/login", {"email": email, "password": password})
        try:
            with ApiClient(url, pair["access_token"]) as session:
                yield session
        finally:
            try:
                anonymous.post("/auth/logout", {"refresh_token": pair["refresh_token"]})
            except ApiError:
                # The session dies with its access token in minutes anyway; a failed logout
                # must not hide the outcome of the work that was done.
                pass


def ask_credentials(
    email: str | None, password: str | None, default_email: str | None = None
) -> tuple[str, str]:
    # The profile remembers whose token it holds: asking again would only invite a typo.
    email = email or default_email or typer.prompt("E-mail")
    password = password or typer.prompt("Password", hide_input=True)
    return email, password


def profile_url_and_email(ctx: typer.Context) -> tuple[str, str | None]:
    """The URL (DL_URL wins) and remembered e-mail of the current profile."""
    name = state(ctx).profile
    stored = _stored(name)
    url = os.environ.get("DL_URL") or (stored.url if stored else "")
    if not url:
        raise UsageProblem(f"No URL for profile {name!r}: run `dl login` or set DL_URL.")
    return url.rstrip("/"), stored.email if stored else None


def _stored(name: str) -> config.Profile | None:
    try:
        return config.load().profiles.get(name)
    except config.ConfigError as error:
        raise UsageProblem(str(error)) from error


def scopes_for(me: dict[str, Any]) -> list[str]:
    """Everything the person may hold: admins get the admin scope too."""
    return ["read", "write", *(["admin"] if "admin" in me.get("roles", []) else [])]


def create_token(
    session: ApiClient, *, name: str, scopes: list[str], expires_days: int | None
) -> dict[str, Any]:
    body: dict[str, Any] = {"name": name, "scopes": scopes}
    if expires_days is not None:
        expires = datetime.now(UTC) + timedelta(days=expires_days)
        body["expires_at"] = expires.isoformat().replace("+00:00", "Z")
    result: dict[str, Any] = session.post("/me/tokens", body, idempotent=True)
    return result


def login(
    ctx: typer.Context,
    url: Annotated[str | None, typer.Option("--url", help="The API's base URL.")] = None,
    email: EmailOption = None,
    password: PasswordOption = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            help="Store this existing personal API token instead of "
            "creating one (no password needed).",
        ),
    ] = None,
    token_name: Annotated[
        str | None, typer.Option("--token-name", help="Name of the token to create.")
    ] = None,
    expires_days: Annotated[
        int | None,
        typer.Option(
            "--expires-days",
            min=1,
            max=365,
            help="The token expires after this many days (default: never, until revoked).",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Log in and store a personal API token for the profile (see --profile)."""
    out = Output(as_json)
    profile = state(ctx).profile
    stored = _stored(profile)
    url = (
        url
        or os.environ.get("DL_URL")
        or typer.prompt("API URL", default=stored.url if stored else DEFAULT_URL)
    )
    url = url.rstrip("/")
    token_id: str | None = None
    if token:
        with ApiClient(url, token) as api:
            me = api.get("/me")
    else:
        email, password = ask_credentials(email, password, stored.email if stored else None)
        name = token_name or f"dl {profile} on {socket.gethostname()}"[:100]
        with login_session(url, email, password) as session:
            me = session.get("/me")
            created = create_token(
                session, name=name, scopes=scopes_for(me), expires_days=expires_days
            )
        token, token_id = created["token"], created["id"]
    path = config.store_profile(
        profile, config.Profile(url=url, token=token, token_id=token_id, email=me.get("email"))
    )
    summary = {
        "profile": profile,
        "url": url,
        "member_id": me["id"],
        "email": me.get("email"),
        "roles": me.get("roles", []),
        "token_id": token_id,
        "config": str(path),
    }
    out.result(
        summary,
        lambda: out.say(
            f"Logged in to {escape(url)} as {escape(me.get('full_name') or me.get('email') or '')} "
            f"({', '.join(me.get('roles', []))}). Profile [bold]{escape(profile)}[/] saved in "
            f"{escape(str(path))}."
        ),
    )


def logout(
    ctx: typer.Context,
    revoke: Annotated[
        bool,
        typer.Option(
            "--revoke", help="Also revoke the stored token on the server (asks for the password)."
        ),
    ] = False,
    email: EmailOption = None,
    password: PasswordOption = None,
) -> None:
    """Forget the profile's token (and with --revoke, revoke it on the server)."""
    out = Output()
    profile = state(ctx).profile
    stored = _stored(profile)
    if stored is None:
        raise UsageProblem(f"No profile {profile!r} is stored.")
    if revoke:
        if not stored.token_id:
            raise UsageProblem(
                "This profile's token was given with --token, so its id is "
                "unknown: revoke it with `dl tokens revoke <id>`."
            )
        email, password = ask_credentials(email, password, stored.email)
        with login_session(stored.url, email, password) as session:
            try:
                session.delete(f"/me/tokens/{stored.token_id}")
            except ApiError as error:
                if error.status != 404:  # already gone is what we wanted
                    raise
    config.remove_profile(profile)
    outcome = (
        " and its token revoked."
        if revoke
        else ". The token stays valid until it expires or is revoked."
    )
    out.say(f"Profile [bold]{escape(profile)}[/] removed{outcome}")


def whoami(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Who the current token belongs to, on which deployment."""
    out = Output(as_json)
    with connect(ctx) as api:
        me = api.get("/me")
        url = api.base_url
    roles = ", ".join(me.get("roles", []))
    line = f"{me.get('full_name')} <{me.get('email')}> ({roles}) at {url}"
    out.result(me, lambda: out.say(escape(line)))
