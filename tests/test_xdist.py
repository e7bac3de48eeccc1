"""Under xdist the suite runs exactly the items it runs without xdist: never fewer, never silently.

xdist schedules by node id; items that once shared an id collapsed into one, and a run with
``-n 2`` checked a third of the suite and stayed green. Each run here is compared by the node ids
it executed (the -rA summary) and by its JSON report.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from conftest import (
    EngineEvents,
    ReferenceRun,
    Run,
    SecondEngine,
    executed,
    grouped,
    one_node_swarm,
    run_suite,
    watching_engine,
)

XDIST_MODES = [
    (),
    ("-n", "2", "--dist", "load"),
    ("-n", "2", "--dist", "loadgroup"),
    ("-n", "2", "--dist", "loadscope"),
]
MODE_IDS = ["no-xdist", "load", "loadgroup", "loadscope"]
# The live runs are compared across engines too: no-xdist is the reference run, on the second engine through
# DOCKER_HOST (conftest.reference_run); this mode runs there through a docker context; the others run on this
# machine's engine. The same items, and the same verdicts, on either engine.
THROUGH_A_DOCKER_CONTEXT = "load"
# ... and across orchestrators: this mode deploys the stack to this machine's engine as a one-node swarm
# (--smartmaint-swarm; tests/swarm/dnsrr.yml says why its services use DNS round robin here)
ON_A_ONE_NODE_SWARM = "loadscope"
SWARM = ("--smartmaint-swarm", "--smartmaint-compose-file", "tests/swarm/dnsrr.yml")


def test_static_tier_runs_the_same_items_with_and_without_xdist(pytester: pytest.Pytester, stack: Path) -> None:
    (stack / "override.yml").write_text('services:\n  api:\n    user: "1001:1001"\n')  # one item fails
    runs = {}
    for mode, args in zip(MODE_IDS, XDIST_MODES, strict=True):
        report, junit = stack / f"{mode}.json", stack / f"{mode}.xml"
        result = pytester.runpytest_subprocess(
            "--smartmaint",
            "--smartmaint-static",
            "-p",
            "no:cacheprovider",
            f"--smartmaint-report={report}",
            f"--junitxml={junit}",
            "--smartmaint-compose-file",
            "docker-compose.test.yml",
            "--smartmaint-compose-file",
            "override.yml",
            *args,
        )
        assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()[-3000:]
        runs[mode] = executed(junit, report)
    ids, records = runs["no-xdist"]
    assert (
        ids and ("uid-mapping", "static", "./mlflow_data", "failed") in records
    )  # the override's failure, seen by every mode
    assert all(run == runs["no-xdist"] for run in runs.values()), runs


def test_workers_that_collect_another_suite_than_the_controller_fail_the_run(
    pytester: pytest.Pytester, stack: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The guard itself. Both workers see one more service than the controller (a compose profile that the
    environment turns on in workers only), so they agree with each other and xdist notices nothing."""
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)  # this test's own worker's, when tests run under -n
    pytester.makeconftest(
        "import os\nif os.environ.get('PYTEST_XDIST_WORKER'):\n    os.environ['COMPOSE_PROFILES'] = 'extra'\n"
    )
    (stack / "override.yml").write_text(
        "services:\n  batch:\n    profiles: [extra]\n    build: ./ml\n    user: '1000:1000'\n"
        "    environment:\n      MLFLOW_TRACKING_URI: http://mlflow:5000\n    volumes: [./mlflow_data:/mlruns]\n"
    )
    result = pytester.runpytest_subprocess(
        "--smartmaint",
        "--smartmaint-static",
        "-p",
        "no:cacheprovider",
        "-n",
        "2",
        "--smartmaint-compose-file",
        "docker-compose.test.yml",
        "--smartmaint-compose-file",
        "override.yml",
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*smartmaint: xdist workers did not run the whole suite*"])
    line = re.search(
        r"worker gw\d collected (\d+) suite items \((\d+) distinct ids\), the controller (\d+); "
        r"unexpected: (.*)",
        result.stdout.str(),
    )
    assert line, result.stdout.str()[-3000:]
    worker, distinct, controller, unexpected = int(line[1]), int(line[2]), int(line[3]), line[4].split(", ")
    # exactly the batch service's items are extra: the audio and client items among them
    assert worker == distinct == controller + len(unexpected)
    assert all(re.fullmatch(r"smartmaint::[a-z-]+\[static-batch\]", i) for i in unexpected), unexpected
    assert {"smartmaint::audio-deps[static-batch]", "smartmaint::mlflow-reachable[static-batch]"} <= set(unexpected)
    assert result.parseoutcomes().get("failed") is None  # every item passed: the guard alone fails the run


def live_run(
    *args: str, out: Path, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], Run, bool, EngineEvents]:
    """One live run of the reference stack: its result, what it executed, whether xdist grouped it, and what
    the engine did meanwhile.

    Every stack a run brings up creates containers whose compose files include the run's own override, which
    lives in the run's TMPDIR (here ``out``): the projects of other runs on the engine are not counted."""
    with watching_engine(env) as engine:
        files = ("--smartmaint-compose-file", "docker-compose.test.yml")  # (before any other -f in args)
        result, _ = run_suite(out, "-k", "live", *files, *args, env={**(env or {}), "TMPDIR": str(out)})
    return result, executed(out / "junit.xml", out / "report.json"), grouped(out / "junit.xml"), engine


def live_part(run: Run) -> Run:
    ids, records = run
    return {i for i in ids if "[live-" in i}, [r for r in records if r[1] == "live"]


def stack_services(stacks: set[str]) -> list[str]:
    """The swarm services of these stacks that are still there."""
    found = []
    for stack in stacks:
        done = subprocess.run(
            ["docker", "service", "ls", "-q", "--filter", f"label=com.docker.stack.namespace={stack}"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        found += done.stdout.split()
    return found


@pytest.mark.live
@pytest.mark.usefixtures("no_leftovers")
def test_live_tier_runs_the_same_items_with_and_without_xdist(
    tmp_path: Path, reference_run: ReferenceRun, second_engine: SecondEngine
) -> None:
    assert reference_run.result.returncode == 0, reference_run.result.stdout[-3000:]
    runs = {"no-xdist": live_part(executed(reference_run.out / "junit.xml", reference_run.out / "report.json"))}
    groups = {"no-xdist": False}
    for mode, args in zip(MODE_IDS[1:], XDIST_MODES[1:], strict=True):
        env = second_engine.context(tmp_path / "docker-config") if mode == THROUGH_A_DOCKER_CONTEXT else None
        if mode == ON_A_ONE_NODE_SWARM:
            with one_node_swarm():
                result, runs[mode], groups[mode], engine = live_run(*args, *SWARM, out=tmp_path / mode)
                created = engine.created_stacks()
                assert f"stack: own swarm stack {next(iter(created), '?')} (`docker stack deploy`)" in result.stdout
                assert not stack_services(created)
        else:
            result, runs[mode], groups[mode], engine = live_run(*args, out=tmp_path / mode, env=env)
            created = engine.created_projects(str(tmp_path / mode))
        assert result.returncode == 0, (mode, result.stdout[-3000:])
        if env:
            assert second_engine.header("docker context second-engine") in result.stdout
        assert len(created) == 1, (mode, created)  # two workers, one stack brought up
        assert not env or not second_engine.left_by(next(iter(created)))  # (no_leftovers looks at this engine)
        # each audio service's round trip runs once, in the worker that runs its item: not in both workers
        assert engine.probe_runs(created, "audio_roundtrip") == {"api": 1, "notebook_runner": 1}, mode
        assert (  # the recreate runs only where the live items share one worker; else it says why it did not
            "PASSED smartmaint::sqlite-backend[live-mlflow-restart-recreate]" in result.stdout
            or "the live items are not in one xdist worker" in result.stdout
        ), (mode, result.stdout[-3000:])
    baseline_ids, baseline = runs["no-xdist"]
    assert ("sqlite-backend", "live", "mlflow-restart-recreate", "passed") in baseline  # one worker: it runs
    recreate = {
        ("sqlite-backend", "live", "mlflow-restart-recreate", "passed"),
        ("sqlite-backend", "live", "mlflow-restart-recreate", "skipped"),
    }
    for mode in ("load", "loadscope", "loadgroup"):  # the same items; the recreate alone may be skipped
        ids, records = runs[mode]
        assert ids == baseline_ids, mode
        differs = set(records) ^ set(baseline)
        # the recreate runs exactly where xdist really grouped the live items in one worker: loadgroup on
        # pytest < 9.2, where its mark takes (pytest-dev/pytest-xdist#1386); elsewhere it skips, saying why
        assert differs == (set() if groups[mode] else recreate), (mode, groups[mode], differs)
    assert not groups["load"] and not groups["loadscope"]
