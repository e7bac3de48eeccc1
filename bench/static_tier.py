"""Benchmark: the static tier on a generated 300-service compose project.

Times, in one run and on the same files:
  baseline = `pytest` without --smartmaint  +  one `docker compose config`
  static   = `pytest --smartmaint --smartmaint-static`
and prints both and their ratio (target: static <= 1.5 x baseline). Median of N runs.

    python bench/static_tier.py [--services 300] [--runs 5]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASE = Path(__file__).resolve().parent.parent / "tests" / "projects" / "base"


def generate(directory: Path, services: int) -> Path:
    shutil.copytree(BASE / "server", directory / "server")
    shutil.copytree(BASE / "ml", directory / "ml")
    lines = [
        "services:",
        "  mlflow:",
        "    build: ./server",
        '    user: "1000:1000"',
        "    command: mlflow server --host 0.0.0.0 --backend-store-uri sqlite:////mlflow_db/mlflow.db "
        "--default-artifact-root /mlruns --allowed-hosts mlflow:5000,localhost:*",
        "    volumes: [./mlflow_db:/mlflow_db, ./mlflow_data:/mlruns]",
    ]
    for i in range(services - 1):
        lines += [
            f"  worker{i:03d}:",
            "    build: ./ml",
            '    user: "1000:1000"',
            "    environment: {MLFLOW_TRACKING_URI: 'http://mlflow:5000'}",
            "    volumes: [./mlflow_data:/mlruns]",
            "    depends_on: [mlflow]",
        ]
    compose = directory / "docker-compose.yml"
    compose.write_text("\n".join(lines) + "\n")
    (directory / "conftest.py").write_text("")
    return compose


def timed(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode not in (0, 5):  # 5: the baseline pytest run collects no test
        sys.exit(f"{' '.join(command)} exited {result.returncode}:\n{result.stdout[-3000:]}{result.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--services", type=int, default=300)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        compose = generate(directory, args.services)
        pytest = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        config = ["docker", "compose", "-f", str(compose), "config", "--format", "json"]
        static = [*pytest, "--smartmaint", "--smartmaint-static", f"--smartmaint-compose-file={compose}"]
        baseline_runs, static_runs = [], []
        for _ in range(args.runs):  # interleaved, so drift hits both alike
            baseline_runs.append(timed(pytest, directory) + timed(config, directory))
            static_runs.append(timed(static, directory))
        items = subprocess.run([*static, "--co", "-q"], cwd=directory, capture_output=True, text=True).stdout.count("smartmaint::")
    baseline, measured = statistics.median(baseline_runs), statistics.median(static_runs)
    print(f"services: {args.services}, items: {items}, runs: {args.runs} (medians)")
    print(f"baseline (pytest without --smartmaint + docker compose config): {baseline:.3f} s")
    print(f"pytest --smartmaint --smartmaint-static:                         {measured:.3f} s")
    print(f"ratio: {measured / baseline:.2f}x (target <= 1.5x)")


if __name__ == "__main__":
    main()
