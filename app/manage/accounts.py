"""``python -m app.manage create-admin EMAIL [--name NAME]``: the first admin of a database."""

import asyncio
import sys

from email_validator import EmailNotValidError, validate_email

from app.auth import accounts, links
from app.core.config import Settings, get_settings
from app.core.db import create_engine, create_sessionmaker


async def ensure_admin(settings: Settings, email: str, name: str | None) -> accounts.AdminCreated:
    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine)() as session:
            result = await accounts.ensure_admin(session, settings, email=email, full_name=name)
            await session.commit()
            return result
    finally:
        await engine.dispose()


def create_admin(email: str, name: str | None) -> int:
    """Prints what was done and the set-password link; 0 on success, 2 for a bad address."""
    return asyncio.run(create_admin_with(get_settings(), email, name))


async def create_admin_with(settings: Settings, email: str, name: str | None) -> int:
    try:
        # The same syntax rules as sign-up; deliverability is the mail server's business.
        address = validate_email(email, check_deliverability=False).normalized
    except EmailNotValidError as error:
        print(f"Not a usable e-mail address: {error}", file=sys.stderr)
        return 2
    result = await ensure_admin(settings, address, name)
    member = result.member
    if result.created:
        print(f"Created the admin {member.email} (roles: admin, member).")
    elif result.roles_added:
        print(f"{member.email} now has the roles: {', '.join(result.roles_added)}.")
    else:
        print(f"{member.email} is an admin already.")
    if result.invitation is None:
        print("The account has a password: sign in with it (or use the password reset).")
        return 0
    print(
        "An invitation e-mail is queued (the worker sends it; with DL_MAIL_TRANSPORT=console it "
        "is printed on the server's console)."
    )
    print(f"Set the password here (valid until {result.invitation.expires_at:%Y-%m-%d %H:%M} UTC):")
    print(links.url_of(settings, result.invitation))
    return 0
