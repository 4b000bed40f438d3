"""Every error body the suite received was problem+json: checked once more when the session ends.

Each response of the ``client`` fixture is checked as it arrives (``record_error``, its response
hook), which fails the test that made the request. The log it keeps is checked again when the
session ends, whatever order the tests ran in, so a body a test let pass (a caught assertion, a
client built by hand with this hook) still fails the run. When the whole suite ran, the session
also fails unless it met every client error status in ``EXPECTED_STATUSES``: a focused run
(a directory, a node id, ``-k``, ``--deselect``, ``--ignore`` as in ``make test-fast``, a run
stopped by ``-x``) does not meet them all and is not asked to.

``tests/conftest.py`` re-exports the hooks below, which is how pytest finds them.
"""

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.problems import assert_problem

# The client errors the whole suite exercises.
EXPECTED_STATUSES = frozenset({401, 403, 404, 405, 409, 412, 413, 422, 429})
TESTS_DIR = Path(__file__).resolve().parent

_NARROWED = pytest.StashKey[bool]()
_REPORT = pytest.StashKey[list[str]]()


@dataclass(frozen=True)
class ErrorBody:
    test: str
    method: str
    url: str
    status: int
    content_type: str
    content: bytes

    def fault(self) -> str | None:
        """What is wrong with the body, or None when it is a well-formed problem document."""
        if not self.content_type.startswith("application/problem+json"):
            return f"content type {self.content_type!r}"
        try:
            body = json.loads(self.content)
        except ValueError:
            return "not JSON"
        if not isinstance(body, dict):
            return "not a JSON object"
        if body.get("status") != self.status:
            return f"status {body.get('status')!r} in the body"
        kind = body.get("type")
        if not (isinstance(kind, str) and kind.startswith("/problems/")):
            return f"type {kind!r}"
        return None

    def describe(self) -> str:
        return (
            f"{self.test or '?'}: {self.method} {self.url} -> {self.status}, {self.fault()}: "
            f"{self.content[:200]!r}"
        )


@dataclass
class ErrorLog:
    """Every error response the suite's clients received."""

    bodies: list[ErrorBody] = field(default_factory=list)

    def faulty(self) -> list[ErrorBody]:
        return [body for body in self.bodies if body.fault() is not None]

    def statuses(self) -> set[int]:
        return {body.status for body in self.bodies}


ERROR_LOG = ErrorLog()


async def record_error(response: httpx.Response) -> None:
    """The response hook of the test clients: logs an error body, then checks it at once."""
    if response.status_code >= 400:
        await response.aread()
        ERROR_LOG.bodies.append(
            ErrorBody(
                # pytest names the running test in the environment: "<node id> (call)".
                test=os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" ", 1)[0],
                method=response.request.method,
                url=str(response.request.url),
                status=response.status_code,
                content_type=response.headers.get("content-type", ""),
                content=response.content,
            )
        )
        assert_problem(response)


def pytest_deselected(items: list[pytest.Item]) -> None:
    # -k, -m, --deselect and the like all report here: a narrowed run.
    if items:
        items[0].config.stash[_NARROWED] = True


def _whole_suite(session: pytest.Session, exitstatus: int) -> bool:
    config = session.config
    if config.stash.get(_NARROWED, False) or config.getoption("collectonly"):
        return False
    if config.getoption("ignore") or config.getoption("ignore_glob"):
        return False
    if session.shouldstop or session.shouldfail or exitstatus == pytest.ExitCode.INTERRUPTED:
        return False  # stopped before the end (-x, --maxfail, Ctrl-C)
    # The tests were collected from the tests directory itself (or a directory above it), not
    # from a part of it or a node id.
    for arg in config.args:
        path = Path(config.invocation_params.dir, arg).resolve()
        if "::" not in arg and (path == TESTS_DIR or path in TESTS_DIR.parents):
            return True
    return False


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    report = [f"not problem+json: {body.describe()}" for body in ERROR_LOG.faulty()]
    if _whole_suite(session, exitstatus):
        missing = EXPECTED_STATUSES - ERROR_LOG.statuses()
        if missing:
            report.append(
                f"the whole suite ran but never received {sorted(missing)} "
                f"(received {sorted(ERROR_LOG.statuses())})"
            )
    if report:
        session.config.stash[_REPORT] = report
        if session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    report = terminalreporter.config.stash.get(_REPORT, [])
    if report:
        terminalreporter.section("error bodies", sep="=", red=True, bold=True)
        for line in report:
            terminalreporter.write_line(line, red=True)
        terminalreporter.write_line(
            f"The session fails: {len(report)} problem(s) with the error bodies it received.",
            red=True,
            bold=True,
        )
