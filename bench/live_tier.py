"""Benchmark: the live tier against the bare floor, on the reference stack, images built.

floor = the operations the suite cannot avoid, done with plain `docker compose` commands,
one after another: `up --wait`, one model registration in the trainer, one load per
consumer, one restart and one forced recreate of the server (each waited healthy), one
audio round trip per audio service, `down`.
concurrent floor = the same, with the per-service operations (the loads, the audio round
trips) run concurrently across services, as the suite does.
suite = `pytest --smartmaint -m smartmaint` on the same compose file.

    BASE_IMAGE=smartmaint-base:bookworm python bench/live_tier.py [--runs 1]

Needs a Docker engine with Compose v2; run `docker compose -f docker-compose.test.yml build` first.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import cast

from pytest_smartmaint.live.probes import source

REPO = Path(__file__).resolve().parent.parent
COMPOSE = REPO / "docker-compose.test.yml"
CONSUMERS = ("api", "notebook_runner")
AUDIO = ("api", "notebook_runner")


def compose(project: str, *args: str) -> str:
    result = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE), "-p", project, *args], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        sys.exit(f"docker compose {' '.join(args[:3])} failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    return result.stdout


def python_in(project: str, service: str, script: str, arg: object = None) -> dict[str, object]:
    out = compose(project, "exec", "-T", service, "python3", "-c", script, json.dumps(arg))
    return cast(dict[str, object], json.loads(out.strip().splitlines()[-1]))


def each(services: Iterable[str], step: Callable[[str], None], concurrent: bool) -> None:
    if not concurrent:
        for service in services:
            step(service)
        return
    with ThreadPoolExecutor() as pool:
        for future in [pool.submit(step, service) for service in services]:
            future.result()


def floor(concurrent: bool = False) -> float:
    project = f"smartmaint-bench-{uuid.uuid4().hex[:8]}"
    start = time.perf_counter()
    try:
        compose(project, "up", "-d", "--wait")
        name = f"bench-{project}"
        smoke = python_in(project, "notebook_runner", source("register_model"), {"name": name, "experiment": "bench"})

        def load(consumer: str) -> None:
            loaded = python_in(project, consumer, source("load_model"), {"name": name, **smoke})
            assert loaded["layer"] == "ok", loaded

        def audio(service: str) -> None:
            result = python_in(project, service, source("audio_roundtrip"))
            assert "roundtrip" in result, result

        each(CONSUMERS, load, concurrent)
        compose(project, "restart", "mlflow")
        compose(project, "up", "-d", "--no-deps", "--wait", "mlflow")
        compose(project, "up", "-d", "--no-deps", "--force-recreate", "--wait", "mlflow")
        each(AUDIO, audio, concurrent)
    finally:
        compose(project, "down", "--volumes", "--remove-orphans", "--timeout", "10")
    return time.perf_counter() - start


def suite() -> float:
    start = time.perf_counter()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--smartmaint",
            "-m",
            "smartmaint",
            "-p",
            "no:cacheprovider",
            "-q",
            f"--smartmaint-compose-file={COMPOSE}",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"the suite failed on the reference stack:\n{result.stdout[-3000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    floors: list[float] = []
    concurrent: list[float] = []
    suites: list[float] = []
    for _ in range(args.runs):  # interleaved, so drift hits all alike
        floors.append(floor())
        concurrent.append(floor(concurrent=True))
        suites.append(suite())
    f, c, s = statistics.median(floors), statistics.median(concurrent), statistics.median(suites)
    print(f"runs: {args.runs} (medians)")
    print(f"floor (plain docker compose, serial):      {f:.1f} s")
    print(f"floor (per-service steps concurrent):      {c:.1f} s")
    print(f"pytest --smartmaint (static + live):       {s:.1f} s")
    print(f"ratio to the serial floor:     {s / f:.2f}x (target <= 1.0x)")
    print(f"ratio to the concurrent floor: {s / c:.2f}x")


if __name__ == "__main__":
    main()
