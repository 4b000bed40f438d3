"""``python -m app.tables.seating < instance.json > plan.json``

Exit codes: 0 a plan, 1 the rules cannot all hold (``infeasible`` says why), 2 bad input,
3 no plan found within the time limit and no proof that none exists.
"""

import json
import sys

from pydantic import ValidationError

from app.tables.seating.io import InstanceIn, plan_to_json
from app.tables.seating.solver import solve

EXIT_CODES = {"ok": 0, "infeasible": 1, "not_found": 3}


def main() -> int:
    try:
        instance = InstanceIn.model_validate_json(sys.stdin.buffer.read())
    except ValidationError as error:
        problems = [{"loc": list(e["loc"]), "msg": e["msg"]} for e in error.errors()]
        json.dump({"error": "invalid instance", "problems": problems}, sys.stderr, indent=2)
        sys.stderr.write("\n")
        return 2
    plan = solve(instance.to_instance())
    json.dump(plan_to_json(plan), sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    return EXIT_CODES[plan.status]


if __name__ == "__main__":
    sys.exit(main())
