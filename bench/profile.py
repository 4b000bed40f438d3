"""``--profile``: sample the server with py-spy under load and rank the functions it runs.

py-spy is not a project dependency: ``.venv/bin/pip install py-spy``. It attaches to the running
uvicorn process (ptrace; in a container it may need ``--cap-add SYS_PTRACE``).
"""

import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

INSTALL_HINT = "py-spy is not installed: run `.venv/bin/pip install py-spy`, or drop --profile."
SAMPLES_PER_SECOND = 200
TOP = 15
# A frame of py-spy's raw output with --nolineno: "function (package/module.py)".
_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*)\)$")
PROJECT_PACKAGE = "app"


class ProfileError(RuntimeError):
    """py-spy could not sample the server."""


def find_py_spy() -> str:
    beside_python = Path(sys.executable).parent / "py-spy"
    path = str(beside_python) if beside_python.exists() else shutil.which("py-spy")
    if path is None:
        raise SystemExit(INSTALL_HINT)
    return path


def profile(py_spy: str, pid: int, seconds: int, load: Callable[[], object]) -> str:
    """Record ``pid`` for ``seconds`` while ``load()`` runs; return the hotspot report."""
    with Recording(py_spy, pid, seconds) as recording:
        load()
    return recording.report


class Recording:
    """py-spy sampling ``pid`` while the block runs (or for ``seconds``, if given): on leaving
    the block ``report`` holds the hotspots. Without ``seconds`` the recorder is stopped the way
    its user would stop it, with SIGINT, on which it writes what it has sampled."""

    def __init__(self, py_spy: str, pid: int, seconds: int | None = None) -> None:
        # --nonblocking: py-spy otherwise pauses the process for every sample, and a server
        # paused inside its transactions makes every other request wait on their locks.
        self.command = [py_spy, "record", "--nonblocking", "--pid", str(pid)]
        if seconds is not None:
            self.command += ["--duration", str(seconds)]
        self.seconds = seconds
        self.report = ""

    def __enter__(self) -> "Recording":
        self._tmp = tempfile.TemporaryDirectory(prefix="dl-bench-profile-")
        self._output = Path(self._tmp.name) / "stacks.txt"
        self._recorder = subprocess.Popen(
            [
                *self.command,
                "--rate",
                str(SAMPLES_PER_SECOND),
                "--format",
                "raw",
                "--nolineno",
                "--output",
                str(self._output),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        recorder = self._recorder
        try:
            if self.seconds is None:
                recorder.send_signal(signal.SIGINT)
            _, errors = recorder.communicate(timeout=(self.seconds or 0) + 30)
        finally:
            if recorder.poll() is None:
                recorder.kill()
                recorder.wait()
        try:
            if exc_type is not None:
                return
            if recorder.returncode != 0 or not self._output.exists():
                raise ProfileError(f"py-spy failed ({recorder.returncode}): {errors.strip()}")
            self.report = hotspots(self._output.read_text())
        finally:
            self._tmp.cleanup()


def hotspots(collapsed: str) -> str:
    """Rank packages and functions by own share of the busy samples, and the project's
    functions by inclusive share. ``collapsed`` holds "frame;...;frame count" lines."""
    own: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    project: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        frames = stack.split(";")
        total += samples
        own[frames[-1]] += samples
        packages[_package(frames[-1])] += samples
        for frame in set(frames):
            if _package(frame) == PROJECT_PACKAGE:
                project[frame] += samples
    if not total:
        return "py-spy recorded no busy samples."
    lines = [f"{total} busy samples at {SAMPLES_PER_SECOND}/s (idle time excluded)."]
    sections = (
        ("Own time by package", packages),
        ("Own time by function", own),
        # SQLAlchemy runs queries in greenlets, which py-spy shows as stacks of their own:
        # time inside the ORM is missing from the project functions that awaited it.
        (
            "Inclusive time of the project's functions (ORM work done in greenlets excluded)",
            project,
        ),
    )
    for title, counter in sections:
        lines += ["", f"{title}:"]
        lines += [f"  {samples / total:6.1%}  {name}" for name, samples in counter.most_common(TOP)]
    return "\n".join(lines)


def _package(frame: str) -> str:
    """The top-level package or module of a frame ("sqlalchemy", "asyncio", "app")."""
    match = _FRAME.match(frame)
    if match is None:
        return frame
    return match["file"].split("/", 1)[0].removesuffix(".py")
