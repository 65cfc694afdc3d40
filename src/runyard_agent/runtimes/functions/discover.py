"""``python -m runyard_agent.runtimes.functions.discover OUT ROOT MODULE...``: import each
module with ROOT first on ``sys.path`` and write the definitions of its ``@workflow`` functions
to OUT (JSON).

``runyard workflows deploy`` runs it in a fresh interpreter, so the user's modules never mix
with the CLI's own. A module that fails to import, or a signature that cannot be a workflow,
is written as ``{"error": ...}`` naming it.
"""

from __future__ import annotations

import importlib
import json
import sys
import traceback
from pathlib import Path
from typing import Any

from runyard_agent.runtimes.functions.decorator import find_workflows
from runyard_agent.runtimes.functions.signature import WorkflowSignatureError


def discover(root: str, modules: list[str]) -> dict[str, Any]:
    sys.path.insert(0, root)
    found: list[dict[str, Any]] = []
    for name in modules:
        try:
            module = importlib.import_module(name)
        except WorkflowSignatureError as exc:
            return {"error": str(exc)}
        except BaseException as exc:
            last = traceback.extract_tb(exc.__traceback__)[-1:]
            where = f" ({last[0].filename}:{last[0].lineno})" if last else ""
            return {"error": f"importing {name} failed: {type(exc).__name__}: {exc}{where}"}
        for spec in find_workflows(module):
            found.append(
                {
                    "module": name,
                    "function": spec.function.__name__,
                    "definition": spec.definition(),
                }
            )
    return {"workflows": found}


def main() -> int:
    out, root, *modules = sys.argv[1:]
    result = discover(root, modules)
    Path(out).write_text(json.dumps(result, default=str), encoding="utf-8")
    return 0 if "workflows" in result else 1


if __name__ == "__main__":
    sys.exit(main())
