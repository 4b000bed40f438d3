"""`dl`, the Digital Leaders admin command. It speaks only HTTP to the API, so it works against
any deployment the caller can reach.

Exit codes: 0 done, 1 the API refused or could not be reached (the problem's title and detail
are printed), 2 the command line was wrong (typer's usage errors, and a missing login).

To add a command group, write a module with a ``typer.Typer`` called ``app`` (see
app/cli/members.py) and add it to ``GROUPS``.
"""

from typing import Annotated, Any

import typer
from rich.markup import escape
from typer.core import TyperGroup

from app.cli import (
    applications,
    auth,
    config,
    events,
    members,
    reviews,
    seating,
    surveys,
    tokens,
    webhooks,
)
from app.cli.client import ApiError
from app.cli.common import State, UsageProblem
from app.cli.output import Output, json_mode, reset_json_mode

GROUPS = (members, applications, reviews, events, seating, surveys, webhooks, tokens)


class DlGroup(TyperGroup):
    """The root group: every subcommand runs inside its ``invoke``, so an API error raised
    anywhere is reported here once, in one format, with exit code 1."""

    # ``Any``: newer typer releases vendor their own click, and this must not care which.
    def invoke(self, ctx: Any) -> Any:
        reset_json_mode()
        try:
            return super().invoke(ctx)
        except ApiError as error:
            Output(json_mode()).problem(error)
            raise typer.Exit(1) from error
        except UsageProblem as error:
            Output().note(f"[bold red]Error:[/] {escape(str(error))}")
            raise typer.Exit(2) from error


app = typer.Typer(
    name="dl",
    cls=DlGroup,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Script the Digital Leaders community over its API.",
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def root(
    ctx: typer.Context,
    profile: Annotated[
        str,
        typer.Option(
            "--profile",
            "-p",
            envvar="DL_PROFILE",
            show_envvar=True,
            help="Which stored login to use.",
        ),
    ] = config.DEFAULT_PROFILE,
) -> None:
    ctx.obj = State(profile=profile)


app.command("login")(auth.login)
app.command("logout")(auth.logout)
app.command("whoami")(auth.whoami)
for group in GROUPS:
    app.add_typer(group.app)


def main() -> None:
    app()
