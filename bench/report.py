"""The results section of bench/README.md: medians of the rounds, ratios against the targets."""

import os
import platform
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bench.wrk import WrkResult, WrkSettings

README = Path(__file__).resolve().parent / "README.md"


@dataclass(frozen=True, slots=True)
class Endpoint:
    key: str
    label: str
    route: str


@dataclass(frozen=True, slots=True)
class Comparison:
    """A full-stack endpoint next to its ceiling, with the share of the ceiling it must reach."""

    label: str
    full_stack: str
    ceiling: str
    target: float


@dataclass(frozen=True, slots=True)
class Summary:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int
    rounds: tuple[float, ...]
    # The server process's CPU time per request (utime + stime), the median of the rounds.
    cpu_us_per_request: float = 0.0

    @classmethod
    def of(cls, results: Sequence[WrkResult], cpu_us: Sequence[float] = ()) -> "Summary":
        return cls(
            cpu_us_per_request=statistics.median(cpu_us) if cpu_us else 0.0,
            requests_per_second=statistics.median(r.requests_per_second for r in results),
            p50_ms=statistics.median(r.p50_ms for r in results),
            p99_ms=statistics.median(r.p99_ms for r in results),
            non_2xx=sum(r.non_2xx for r in results),
            socket_errors=sum(r.socket_errors for r in results),
            rounds=tuple(r.requests_per_second for r in results),
        )


@dataclass(frozen=True, slots=True)
class Run:
    """Everything the section reports about one benchmark run."""

    endpoints: tuple[Endpoint, ...]
    comparisons: tuple[Comparison, ...]
    summaries: dict[str, Summary]
    wrk: WrkSettings
    rounds: int
    warmup_seconds: int
    members: int
    postgres_version: str
    started: datetime

    def ratio(self, comparison: Comparison) -> float:
        return (
            self.summaries[comparison.full_stack].requests_per_second
            / self.summaries[comparison.ceiling].requests_per_second
        )

    def cpu_ratio(self, comparison: Comparison) -> float:
        """The ceiling's CPU per request over the full stack's: the share of the ceiling's
        efficiency reached, comparable with ``ratio``."""
        full = self.summaries[comparison.full_stack].cpu_us_per_request
        return self.summaries[comparison.ceiling].cpu_us_per_request / full if full else 0.0


def cpu_model() -> str:
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown"
    match = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    return match.group(1).strip() if match else platform.processor() or "unknown"


def render(run: Run) -> str:
    lines = [
        "## Results",
        "",
        f"Measured {run.started:%Y-%m-%d %H:%M} UTC on {len(os.sched_getaffinity(0))} cores "
        f"(nproc), {cpu_model()}; Python {platform.python_version()}, "
        f"PostgreSQL {run.postgres_version}, {run.members} members.",
        f"Load: `{run.wrk.describe()}`, {run.rounds} interleaved rounds per endpoint after "
        f"a {run.warmup_seconds} s warm-up each; uvicorn with 1 worker. Figures are the "
        "medians of the rounds.",
        "",
        "| Endpoint | Route | Requests/s | Server CPU per request (us) | p50 (ms) | p99 (ms) "
        "| Non-2xx | Requests/s by round |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for endpoint in run.endpoints:
        s = run.summaries[endpoint.key]
        rounds = ", ".join(f"{rate:.0f}" for rate in s.rounds)
        lines.append(
            f"| {endpoint.label} | `GET {endpoint.route}` | {s.requests_per_second:.0f} "
            f"| {s.cpu_us_per_request:.0f} | {s.p50_ms:.2f} | {s.p99_ms:.2f} | {s.non_2xx} "
            f"| {rounds} |"
        )
    lines += [
        "",
        "| Full stack / reference | By requests/s | By CPU per request | Target | Verdict |",
        "|---|---:|---:|---:|---|",
    ]
    for comparison in run.comparisons:
        ratio, cpu = run.ratio(comparison), run.cpu_ratio(comparison)
        met = ratio >= comparison.target and cpu >= comparison.target
        verdict = "meets the target" if met else "**below the target**"
        lines.append(
            f"| {comparison.label} | {ratio:.0%} | {cpu:.0%} | >= {comparison.target:.0%} "
            f"| {verdict} |"
        )
    errors = sum(s.socket_errors for s in run.summaries.values())
    if errors:
        lines += ["", f"wrk reported {errors} socket errors (connect, read, write, timeout)."]
    return "\n".join(lines) + "\n"


def write(section: str, readme: Path = README, marker: str = "results") -> None:
    """Replace the text between a benchmark's markers in the README (append them if
    missing). Each benchmark has its own marker, so one run never overwrites another's."""
    start, end = f"<!-- bench:{marker}:start -->", f"<!-- bench:{marker}:end -->"
    text = readme.read_text() if readme.exists() else ""
    block = f"{start}\n{section}{end}"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + block + "\n"
    readme.write_text(text)
