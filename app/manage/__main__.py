"""``python -m app.manage COMMAND``: the operator's commands (``--help`` lists them)."""

import typer

from app.manage import accounts, demo, openapi

# typer (already the `dl` command's library) gives the commands help, usage errors (exit 2) and
# typed options without a parser of our own.
cli = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Operator's commands for a Digital Leaders deployment (run next to its database).",
)


@cli.command("load-demo")
def load_demo() -> None:
    """Load the demo community into an empty database (does nothing when members exist)."""
    demo.main()


@cli.command("create-admin")
def create_admin(
    email: str = typer.Argument(..., help="The admin's e-mail address."),
    name: str | None = typer.Option(None, "--name", help="The admin's full name."),
) -> None:
    """Create the first admin (roles admin and member), or give an existing account the admin
    role, and send an invitation to set a password; the set-password link is printed too, for
    a deployment without mail yet. Safe to repeat: each run makes a fresh link while the
    account has no password."""
    raise typer.Exit(accounts.create_admin(email, name))


@cli.command("openapi")
def write_openapi(
    check: bool = typer.Option(False, "--check", help="Fail if openapi/openapi.json is stale."),
) -> None:
    """Write the committed OpenAPI document (openapi/openapi.json), or check it is current."""
    raise typer.Exit(openapi.main(check=check))


if __name__ == "__main__":
    cli()
