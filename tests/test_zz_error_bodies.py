"""Runs last (by name): every error body the suite received was problem+json.

Each response is already checked as it arrives (tests/conftest.py); this test makes sure the
collection happened at all and re-checks the whole set in one place.
"""

import json

from tests.conftest import ERROR_LOG


def test_every_error_body_was_problem_json():
    if not ERROR_LOG.bodies:
        return  # run alone (e.g. `pytest -k`): nothing was collected
    statuses = {status for status, _, _ in ERROR_LOG.bodies}
    for status, content_type, raw in ERROR_LOG.bodies:
        assert content_type.startswith("application/problem+json"), (status, raw[:200])
        body = json.loads(raw)
        assert body["status"] == status and body["type"].startswith("/problems/")
    # The suite exercises the whole range of client errors.
    assert {401, 403, 404, 405, 409, 412, 413, 422, 429} <= statuses, statuses
