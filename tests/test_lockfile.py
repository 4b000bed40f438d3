"""The lock check itself: it passes on the committed files and fails on each kind of drift."""

import tomllib

from tests.lockfile import ROOT, disagreements

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
LOCKS = {name: (ROOT / "requirements" / name).read_text() for name in ("runtime.txt", "dev.txt")}


def test_the_committed_locks_answer_pyproject():
    assert disagreements(PYPROJECT, LOCKS) == []


def test_a_new_dependency_without_a_pin_is_caught():
    changed = {**PYPROJECT, "project": {**PYPROJECT["project"]}}
    changed["project"]["dependencies"] = [*PYPROJECT["project"]["dependencies"], "left-pad>=1"]
    problems = disagreements(changed, LOCKS)
    assert "runtime.txt: left-pad>=1 is not pinned" in problems
    assert "dev.txt: left-pad>=1 is not pinned" in problems


def test_a_raised_floor_the_pin_misses_is_caught():
    changed = {**PYPROJECT, "project": {**PYPROJECT["project"]}}
    changed["project"]["dependencies"] = [
        "fastapi>=999" if r.startswith("fastapi") else r
        for r in PYPROJECT["project"]["dependencies"]
    ]
    assert any("does not meet fastapi>=999" in p for p in disagreements(changed, LOCKS))


def test_a_pin_without_hashes_is_caught():
    stripped = {
        name: "\n".join(line for line in text.splitlines() if "--hash=" not in line)
        for name, text in LOCKS.items()
    }
    assert any(p.endswith("has no hash") for p in disagreements(PYPROJECT, stripped))
