"""The session-end error-body check (tests/error_bodies.py) fails a session, and only when it
should: each case runs pytest on a throwaway test module in a subprocess."""

import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests.error_bodies import ErrorBody, _whole_suite, pytest_deselected

ROOT = Path(__file__).resolve().parent.parent

CONFTEST = """
from tests.error_bodies import pytest_deselected, pytest_sessionfinish, pytest_terminal_summary
"""

# A throwaway app with one route, called through the suite's response hook. The test swallows
# the assertion the hook raises at once, so only the session-end check can fail the session.
MODULE = """
import asyncio

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from tests.error_bodies import record_error


async def answer(request):
    return Response({body!r}, status_code=400, media_type={media_type!r})


async def call():
    app = Starlette(routes=[Route("/answer", answer)])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://testserver",
        event_hooks={{"response": [record_error]}},
    ) as client:
        await client.get("/answer")


def test_the_error_is_swallowed():
    try:
        asyncio.run(call())
    except AssertionError:
        pass
"""


def _session(tmp_path: Path, name: str, body: str, media_type: str) -> subprocess.Popen[str]:
    directory = tmp_path / name
    directory.mkdir()
    (directory / "pytest.ini").write_text("[pytest]\n")  # its own rootdir, not the project's
    (directory / "conftest.py").write_text(CONFTEST)
    (directory / "test_throwaway.py").write_text(
        textwrap.dedent(MODULE).format(body=body, media_type=media_type)
    )
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(directory)],
        cwd=directory,
        # Only the project on the path and no third-party plugins: a second, not ten.
        env={"PYTHONPATH": str(ROOT), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PATH": ""},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_a_session_that_received_a_plain_text_error_fails_and_one_that_did_not_passes(tmp_path):
    # Both sessions run at once; the passing one shows the failure is the body's, and that a
    # focused run is not asked for the whole suite's statuses.
    plain = _session(tmp_path, "plain", "no problem here", "text/plain")
    problem = _session(
        tmp_path,
        "problem",
        '{"type": "/problems/bad-request", "title": "Bad request", "status": 400}',
        "application/problem+json",
    )
    plain_output, _ = plain.communicate(timeout=60)
    problem_output, _ = problem.communicate(timeout=60)

    assert plain.returncode == 1, plain_output
    assert "1 passed" in plain_output, plain_output
    assert "not problem+json" in plain_output, plain_output
    assert "GET http://testserver/answer -> 400, content type 'text/plain" in plain_output
    assert "b'no problem here'" in plain_output, plain_output
    assert problem.returncode == 0, problem_output
    assert "error bodies" not in problem_output, problem_output


def _body(status: int, content_type: str, content: bytes) -> ErrorBody:
    return ErrorBody("t", "GET", "/x", status, content_type, content)


def test_what_makes_a_body_faulty():
    good = b'{"type": "/problems/not-found", "title": "Not found", "status": 404}'
    assert _body(404, "application/problem+json", good).fault() is None
    assert "content type" in (_body(404, "application/json", good).fault() or "")
    assert "status" in (_body(410, "application/problem+json", good).fault() or "")
    other_type = b'{"type": "about:blank", "title": "Not found", "status": 404}'
    assert "type" in (_body(404, "application/problem+json", other_type).fault() or "")
    assert _body(404, "application/problem+json", b"<html>").fault() == "not JSON"
    assert _body(404, "application/problem+json", b"[]").fault() == "not a JSON object"


def _run(args: list[str], cwd: Path = ROOT, *, deselected: bool = False, **options: Any) -> Any:
    config = SimpleNamespace(
        args=args,
        invocation_params=SimpleNamespace(dir=cwd),
        stash=pytest.Stash(),
        getoption=lambda name: options.get(name),
    )
    if deselected:
        pytest_deselected([SimpleNamespace(config=config)])
    return SimpleNamespace(config=config, shouldstop=False, shouldfail=False)


@pytest.mark.parametrize(
    ("args", "cwd", "whole"),
    [
        (["tests"], ROOT, True),  # `pytest` (the testpaths) or `pytest tests`
        ([str(ROOT)], ROOT / "app", True),
        (["."], ROOT / "tests", True),
        (["tests/auth"], ROOT, False),
        (["tests/test_demo.py"], ROOT, False),
        (["tests/test_demo.py::test_demo"], ROOT, False),
        (["tests/auth", "tests/core"], ROOT, False),
    ],
)
def test_the_whole_suite_is_the_tests_directory_collected_in_full(args, cwd, whole):
    assert _whole_suite(_run(args, cwd), pytest.ExitCode.OK) is whole


@pytest.mark.parametrize(
    "narrowing",
    [
        {"deselected": True},  # -k, -m, --deselect
        {"ignore": ["tests/test_contract_fuzz.py"]},  # make test-fast
        {"ignore_glob": ["*fuzz*"]},
        {"collectonly": True},
    ],
)
def test_a_narrowed_run_of_the_tests_directory_is_not_the_whole_suite(narrowing):
    assert _whole_suite(_run(["tests"], **narrowing), pytest.ExitCode.OK) is False


def test_a_run_stopped_early_is_not_the_whole_suite():
    session = _run(["tests"])
    assert _whole_suite(session, pytest.ExitCode.INTERRUPTED) is False
    session.shouldstop = "Interrupted: 1 failure (-x)"
    assert _whole_suite(session, pytest.ExitCode.TESTS_FAILED) is False
