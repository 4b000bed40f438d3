"""``python -m app.tables.seating [--rounds N] < instance.json > plan.json``

With ``--rounds`` (or ``rounds`` in the instance) the rounds are planned together and the
answer has a ``rounds`` list, one entry per round with its ``tables``, beside the metrics
over all rounds and ``lower_bound``, the repeated pairs counting proves unavoidable.

Exit codes: 0 a plan, 1 the rules cannot all hold (``infeasible`` says why), 2 bad input,
3 no plan found within the time limit and no proof that none exists.
"""

import argparse
import json
import sys
from typing import Any

from pydantic import ValidationError

from app.tables.seating.io import InstanceIn, plan_to_json, rounds_plan_to_json
from app.tables.seating.rounds import MAX_ROUNDS
from app.tables.seating.solver import solve, solve_rounds

EXIT_CODES = {"ok": 0, "infeasible": 1, "not_found": 3}


def _rounds(value: str) -> int:
    number = int(value)
    if not 1 <= number <= MAX_ROUNDS:
        raise argparse.ArgumentTypeError(f"1 to {MAX_ROUNDS} rounds")
    return number


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.tables.seating", description=__doc__)
    parser.add_argument(
        "--rounds", type=_rounds, default=None, help="seat everyone N times (1 to 12)"
    )
    try:
        arguments = parser.parse_args(argv)
    except SystemExit as stop:
        return 2 if stop.code else 0
    try:
        instance = InstanceIn.model_validate_json(sys.stdin.buffer.read())
    except ValidationError as error:
        problems = [{"loc": list(e["loc"]), "msg": e["msg"]} for e in error.errors()]
        json.dump({"error": "invalid instance", "problems": problems}, sys.stderr, indent=2)
        sys.stderr.write("\n")
        return 2
    if arguments.rounds is not None:
        instance.rounds = arguments.rounds
    answer: dict[str, Any]
    if arguments.rounds is None and instance.rounds == 1:
        plan = solve(instance.to_instance())
        answer, status = plan_to_json(plan), plan.status
    else:
        planned = solve_rounds(instance.to_instance())
        answer, status = rounds_plan_to_json(planned), planned.status
    json.dump(answer, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    return EXIT_CODES[status]


if __name__ == "__main__":
    sys.exit(main())
