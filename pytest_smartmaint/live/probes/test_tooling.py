"""In a test service: does pytest import and run, and does each declared pytest plugin import?

A plugin is checked through its distribution's ``pytest11`` entry points (the modules pytest
itself would import), so pytest-xdist is checked as ``xdist.plugin``, not as a guessed name.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from importlib import metadata
from typing import Any

arg = json.loads(sys.argv[1])
out: dict[str, Any] = {"pytest": None, "plugins": {}}
try:
    import pytest

    out["pytest"] = pytest.__version__
except Exception as e:
    out["pytest_error"] = type(e).__name__ + ": " + str(e)
if out["pytest"]:
    done = subprocess.run([sys.executable, "-m", "pytest", "--version"], capture_output=True, text=True, timeout=120)
    out["version_rc"], out["version_output"] = done.returncode, (done.stdout + done.stderr).strip()[-500:]
for name in arg["plugins"]:
    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        out["plugins"][name] = "not installed (importlib.metadata.PackageNotFoundError)"
        continue
    try:
        for entry in dist.entry_points:
            if entry.group == "pytest11":
                importlib.import_module(entry.module)
        out["plugins"][name] = "ok"
    except Exception as e:
        out["plugins"][name] = type(e).__name__ + ": " + str(e)
print(json.dumps(out))
