"""Benchmark: the static tier on a generated 300-service compose project.

Times, in one run and on the same files:
  baseline = `pytest` without --smartmaint  +  one `docker compose config`
  floor    = baseline + pytest running as many trivial items as the suite has
             (pytest's own per-item cost, which no plugin can avoid)
  static   = `pytest --smartmaint --smartmaint-static`
and prints them and the ratios (target: static <= 1.5 x baseline). Median of N runs.

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


def write_trivial(directory: Path, items: int) -> Path:
    path = directory / "trivial" / "test_trivial.py"
    path.parent.mkdir()
    path.write_text(f"import pytest\n\n@pytest.mark.parametrize('i', range({items}))\ndef test_item(i):\n    pass\n")
    return path.parent


def timed(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode not in (0, 5):  # 5: the baseline pytest run collects no test
        sys.exit(f"{' '.join(command)} exited {result.returncode}:\n{result.stdout[-3000:]}{result.stderr[-2000:]}")
    return elapsed


def unrelated_plugins() -> list[str]:
    from importlib.metadata import entry_points

    ours = {"smartmaint", "docker", "testinfra", "pytester"}
    return [arg for ep in entry_points(group="pytest11") if ep.name not in ours for arg in ("-p", f"no:{ep.name}")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--services", type=int, default=300)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "project"
        directory.mkdir()
        compose = generate(directory, args.services)
        # Both sides run with the same flags. Plugins that only happen to be installed on the
        # machine (hypothesis's terminal summary alone costs ~1 s once any test ran) are left out.
        pytest = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *unrelated_plugins()]
        config = ["docker", "compose", "-f", str(compose), "config", "--format", "json"]
        static = [*pytest, "--smartmaint", "--smartmaint-static", f"--smartmaint-compose-file={compose}"]
        collected = subprocess.run([*static, "--co"], cwd=directory, capture_output=True, text=True).stdout
        items = sum(line.startswith("smartmaint::") for line in collected.splitlines())
        trivial = [*pytest, str(write_trivial(Path(tempfile.mkdtemp(dir=tmp)), items)), f"--rootdir={directory}"]
        baseline_runs, floor_runs, static_runs = [], [], []
        for _ in range(args.runs):  # interleaved, so drift hits all alike
            config_s = timed(config, directory)
            baseline_runs.append(timed(pytest, directory) + config_s)
            floor_runs.append(timed(trivial, directory) + config_s)
            static_runs.append(timed(static, directory))
    baseline, floor, measured = (statistics.median(r) for r in (baseline_runs, floor_runs, static_runs))
    print(f"services: {args.services}, items: {items}, runs: {args.runs} (medians)")
    print(f"baseline (pytest without --smartmaint + docker compose config): {baseline:.3f} s")
    print(f"floor    (baseline's config + pytest with {items} trivial items): {floor:.3f} s")
    print(f"pytest --smartmaint --smartmaint-static:                         {measured:.3f} s")
    print(f"ratio to baseline: {measured / baseline:.2f}x (target <= 1.5x); ratio to floor: {measured / floor:.2f}x")


if __name__ == "__main__":
    main()
