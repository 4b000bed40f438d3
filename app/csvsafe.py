"""One CSV cell made inert for spreadsheets, for the server's exports and the `dl` command.

It lives at the top of the package, outside both the server's floors and `app.cli`, because
both write CSV and neither may import the other; it imports nothing of the app, so either may
use it (the import contracts in `pyproject.toml` hold that).
"""

# A cell starting with one of these is read as a formula by spreadsheets (OWASP: CSV
# injection); tab and carriage return are on the list because some spreadsheets strip them
# and read what follows.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def inert(text: str) -> str:
    """``text`` as a spreadsheet shows it and never runs it: a leading ``'`` before a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text
