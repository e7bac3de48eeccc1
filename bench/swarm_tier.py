"""Benchmark: the whole suite on a one-node swarm (--smartmaint-swarm) against the same suite on compose.

Both runs check the reference stack, images built, one after another, alternating: compose first, then swarm,
``--runs`` times. The swarm runs add tests/swarm/dnsrr.yml where this machine's kernel has no IPVS (Swarm's
virtual IPs need it). The ratio is swarm / compose, medians of the runs.

    BASE_IMAGE=smartmaint-base:bookworm python bench/swarm_tier.py [--runs 1]

Needs a Docker engine with Compose v2. This script (not the plugin, which never does) makes this machine's engine
a one-node swarm for the swarm runs when it is in none, and leaves it afterwards.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SUITE = [sys.executable, "-m", "pytest", "--smartmaint", "--smartmaint-only", "-p", "no:cacheprovider", "-q"]
FILES = ["--smartmaint-compose-file", "docker-compose.test.yml"]
SWARM = [
    "--smartmaint-swarm",
    *(["--smartmaint-compose-file", "tests/swarm/dnsrr.yml"] if not Path("/proc/net/ip_vs").exists() else []),
]


def docker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=False)


def timed(*args: str) -> float:
    start = time.perf_counter()
    done = subprocess.run([*SUITE, *FILES, *args], cwd=REPO, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"the suite failed ({' '.join(args) or 'compose'}):\n{done.stdout[-3000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    runs = parser.parse_args().runs
    os.environ.setdefault("BASE_IMAGE", "python:3.12-slim")
    made = docker("info", "--format", "{{.Swarm.LocalNodeState}}").stdout.strip() != "active"
    bridge = docker("network", "inspect", "docker_gwbridge").returncode == 0
    compose, swarm = [], []
    try:
        for _ in range(runs):
            compose.append(timed())
            if made and docker("info", "--format", "{{.Swarm.LocalNodeState}}").stdout.strip() != "active":
                docker("swarm", "init", "--advertise-addr", "127.0.0.1")
            swarm.append(timed(*SWARM))
            if made:  # compose runs on an engine in no swarm, as CI's
                docker("swarm", "leave", "--force")
    finally:
        if made and docker("info", "--format", "{{.Swarm.LocalNodeState}}").stdout.strip() == "active":
            docker("swarm", "leave", "--force")
        if made and not bridge:
            docker("network", "rm", "docker_gwbridge")
    c, s = statistics.median(compose), statistics.median(swarm)
    print(f"compose: {c:.1f} s  {[round(x, 1) for x in compose]}")
    print(f"swarm:   {s:.1f} s  {[round(x, 1) for x in swarm]}")
    print(f"ratio swarm / compose: {s / c:.2f}")


if __name__ == "__main__":
    main()
