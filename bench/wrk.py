"""Running wrk against one URL and reading requests/s, latency percentiles and errors."""

import re
import shutil
import subprocess
from dataclasses import dataclass

INSTALL_HINT = (
    "wrk is not installed; install it with `sudo apt-get install -y wrk` "
    "(Debian/Ubuntu) or `brew install wrk` (macOS), then run `make bench` again."
)
# wrk prints latencies with the unit it finds most readable.
_MILLISECONDS_PER_UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_REQUESTS_PER_SECOND = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_REQUESTS = re.compile(r"^\s*(\d+) requests in ", re.MULTILINE)
_NON_2XX = re.compile(r"^\s*Non-2xx or 3xx responses:\s+(\d+)", re.MULTILINE)
_SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


class WrkError(RuntimeError):
    """wrk failed or printed a report this module cannot read."""


@dataclass(frozen=True, slots=True)
class WrkSettings:
    threads: int
    connections: int
    duration_seconds: int

    def describe(self) -> str:
        return (
            f"wrk -t{self.threads} -c{self.connections} -d{self.duration_seconds}s "
            "--latency --timeout 5s"
        )


@dataclass(frozen=True, slots=True)
class WrkResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: int


def find_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit(INSTALL_HINT)
    return path


def run_wrk(wrk: str, url: str, token: str, settings: WrkSettings) -> WrkResult:
    command = [
        wrk,
        f"-t{settings.threads}",
        f"-c{settings.connections}",
        f"-d{settings.duration_seconds}s",
        "--latency",
        "--timeout",
        "5s",
        "-H",
        f"Authorization: Bearer {token}",
        url,
    ]
    completed = subprocess.run(
        command,
        capture_output=True,
        text=True,
        check=False,
        timeout=settings.duration_seconds + 30,
    )
    if completed.returncode != 0:
        raise WrkError(f"wrk exited with {completed.returncode}: {completed.stderr.strip()}")
    return parse_report(completed.stdout)


def parse_report(report: str) -> WrkResult:
    """Read the report of ``wrk --latency``."""
    try:
        rate = float(_search(_REQUESTS_PER_SECOND, report).group(1))
        requests = int(_search(_REQUESTS, report).group(1))
        p50, p99 = _percentile(report, "50"), _percentile(report, "99")
    except ValueError as error:
        raise WrkError(f"{error} in the wrk report:\n{report}") from error
    non_2xx = _NON_2XX.search(report)
    socket_errors = _SOCKET_ERRORS.search(report)
    return WrkResult(
        requests_per_second=rate,
        p50_ms=p50,
        p99_ms=p99,
        requests=requests,
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(map(int, socket_errors.groups())) if socket_errors else 0,
    )


def _search(pattern: re.Pattern[str], report: str) -> re.Match[str]:
    match = pattern.search(report)
    if match is None:
        raise ValueError(f"no match for {pattern.pattern!r}")
    return match


def _percentile(report: str, percent: str) -> float:
    pattern = re.compile(rf"^\s*{percent}%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.MULTILINE)
    value, unit = _search(pattern, report).groups()
    return float(value) * _MILLISECONDS_PER_UNIT[unit]
