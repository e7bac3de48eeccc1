"""Benchmark: the CPU an idle reference stack costs this machine, with its healthchecks as they are and as
they were (urllib's import in mlflow's and the api's check, notebook_runner's `true` every 1 s, redis' check
every 2 s, postgres' every 2 s), in one run.

Each stack is brought up (`up --wait`), left alone, and the machine's busy CPU time is read from /proc/stat
over the window; then it is removed. On a CI runner every stack a test brings up pays this for as long as it
runs, beside the other tests' stacks.

    BASE_IMAGE=smartmaint-base:bookworm python bench/stack_idle_cpu.py [--seconds 30] [--runs 1]

Needs a local Docker engine (the CPU read is this machine's) with Compose v2, and the reference images built.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
URLLIB = "import urllib.request; urllib.request.urlopen('http://localhost:{port}/health', timeout=2)"
AS_BEFORE = f"""services:
  mlflow:
    healthcheck:
      test: ["CMD", "python3", "-c", "{URLLIB.format(port=5000)}"]
  api:
    healthcheck:
      test: ["CMD", "python3", "-c", "{URLLIB.format(port=8000)}"]
  notebook_runner:
    healthcheck:
      interval: 1s
  redis:
    healthcheck:
      interval: 2s
  postgres:
    healthcheck:
      interval: 2s
"""


def busy_seconds() -> float:
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")  # all but idle and iowait


def idle_stack_cpu(files: list[Path], seconds: float) -> float:
    """CPU seconds per minute the machine spends while the stack of ``files`` is up and left alone."""
    project = f"smartmaint-bench-{uuid.uuid4().hex[:8]}"
    compose = ["docker", "compose", *(a for f in files for a in ("-f", str(f))), "-p", project]
    try:
        subprocess.run([*compose, "up", "-d", "--wait"], check=True, capture_output=True, timeout=600)
        time.sleep(5)  # the startup's own work is done
        start = busy_seconds()
        time.sleep(seconds)
        return (busy_seconds() - start) * 60 / seconds
    finally:
        subprocess.run([*compose, "down", "--volumes", "--timeout", "5"], capture_output=True, timeout=300)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        before = Path(tmp) / "healthchecks-as-before.yml"
        before.write_text(AS_BEFORE)
        reference = REPO / "docker-compose.test.yml"
        old = statistics.median(idle_stack_cpu([reference, before], args.seconds) for _ in range(args.runs))
        new = statistics.median(idle_stack_cpu([reference], args.seconds) for _ in range(args.runs))
    print(f"idle reference stack, CPU seconds per minute: healthchecks as before {old:.1f}, as now {new:.1f}")
    print(f"ratio now / before: {new / old:.2f}")


if __name__ == "__main__":
    main()
