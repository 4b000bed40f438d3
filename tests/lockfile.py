"""`python -m tests.lockfile`: do requirements/*.txt still answer pyproject.toml? (In `make
check`; `make lock` refreshes them.)

Offline and instant: every requirement pyproject names (the runtime ones in both locks, the
dev extra in the dev lock) must be pinned there at a version its specifier allows, and every
pin must carry hashes, so `pip install --require-hashes` installs exactly what was resolved.
"""

import re
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s\\;]+)")


def pins(text: str) -> dict[str, tuple[Version, int]]:
    """name -> (version, number of hashes) of a `uv pip compile --generate-hashes` file."""
    found: dict[str, tuple[Version, int]] = {}
    current: str | None = None
    for line in text.splitlines():
        match = PIN.match(line)
        if match:
            current = canonicalize_name(match[1])
            found[current] = (Version(match[2]), 0)
        elif current and line.strip().startswith("--hash=sha256:"):
            version, hashes = found[current]
            found[current] = (version, hashes + 1)
        elif not line.startswith((" ", "\t")):
            current = None
    return found


def disagreements(pyproject: dict, locks: dict[str, str]) -> list[str]:
    runtime = [Requirement(r) for r in pyproject["project"]["dependencies"]]
    dev = [Requirement(r) for r in pyproject["project"]["optional-dependencies"]["dev"]]
    wanted = {"runtime.txt": runtime, "dev.txt": runtime + dev}
    problems = []
    for lock, requirements in wanted.items():
        pinned = pins(locks[lock])
        for requirement in requirements:
            name = canonicalize_name(requirement.name)
            if name not in pinned:
                problems.append(f"{lock}: {requirement} is not pinned")
            elif not requirement.specifier.contains(pinned[name][0], prereleases=True):
                problems.append(f"{lock}: {name}=={pinned[name][0]} does not meet {requirement}")
        problems += [f"{lock}: {name} has no hash" for name, (_, n) in pinned.items() if not n]
    return problems


def main() -> int:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    names = ("runtime.txt", "dev.txt")
    locks = {name: (ROOT / "requirements" / name).read_text() for name in names}
    problems = disagreements(pyproject, locks)
    if problems:
        problems.append("pyproject.toml and requirements/ disagree: run `make lock`")
        sys.stderr.write("\n".join(problems) + "\n")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
