"""`pytest --smartmaint` against real containers: the reference stack and broken variants (stacks shaped unlike
it are in test_live_stacks.py).

Each run is a real pytest subprocess in the repository, exactly as a user runs it.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import REPO, VARIANTS, Records, ReferenceRun, SecondEngine, project_of, run_suite

Record = dict[str, Any]

pytestmark = [pytest.mark.live, pytest.mark.usefixtures("no_leftovers")]


def smartmaint(
    tmp_path: Path, *args: str, variants: tuple[str, ...] = (), env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], Records]:
    files = ["--smartmaint-compose-file", "docker-compose.test.yml"]
    for variant in variants:
        files += ["--smartmaint-compose-file", str(VARIANTS / variant)]
    return run_suite(tmp_path, *files, *args, env=env)


def outcomes(records: Records, tier: str) -> dict[str, str]:
    return {f"{r['check']}[{r['subject']}]": r["outcome"] for r in records if r["tier"] == tier}


def test_reference_stack_passes_every_check(reference_run: ReferenceRun) -> None:
    """On the second engine, through DOCKER_HOST (conftest.reference_run)."""
    result, records = reference_run.result, reference_run.records
    assert result.returncode == 0, result.stdout[-4000:]
    assert re.search(r"smartmaint: engine is remote at tcp://[\d.]+:2375 \(DOCKER_HOST\)", result.stdout)
    live = outcomes(records, "live")
    assert live and set(live.values()) <= {"passed", "skipped"}
    assert {o for o in outcomes(records, "static").values()} <= {"passed", "skipped"}
    # what a stack the plugin starts cannot have: the user's registered models, stale images; any other live
    # skip is a check that does not apply to this stack at all (its static item skips too: a database backend)
    skipped = {name for name, outcome in live.items() if outcome == "skipped"}
    static = outcomes(records, "static")
    known = {name for name in skipped if name.partition("[")[0] in ("model-load", "stale-image")}
    assert known and all(static.get(name) == "skipped" for name in skipped - known), live
    assert live["model-load[api]"] == live["model-load[notebook_runner]"] == "passed"
    assert live["serving[api]"] == "passed"  # the api's own endpoint predicts for the smoke model
    assert live["sqlite-backend[mlflow-restart-recreate]"] == "passed"
    burst = next(r for r in records if r["subject"] == "mlflow-write-burst")["facts"]  # one worker, no job runner
    assert burst["errors"] == 0 and burst["requests"] == 481 and burst["writes_per_s"] > 0, burst
    assert (burst["workers"], burst["job_execution"]) == ("1", "false")
    stale = next(r for r in records if r["check"] == "stale-image")
    assert stale["message"].startswith("the plugin built this stack from the current files for this run")
    engine = next(r for r in records if r["check"] == "engine-resources")["facts"]
    assert engine["data_root"] and int(engine["free_bytes"]) > 0 and engine["min_free_gb"] == 10.0
    assert "smartmaint: engine: " in result.stdout and "GB free on " in result.stdout  # the header, on every live run


@pytest.fixture(scope="module")
def ml_image(docker_engine: None) -> None:
    """The no-resampy variant builds FROM the reference ML image: make sure it exists."""
    subprocess.run(
        ["docker", "compose", "-f", "docker-compose.test.yml", "build", "-q", "notebook_runner"],
        cwd=REPO,
        check=True,
        capture_output=True,
        timeout=1800,
    )


# variant -> {failing live item: fragments its message must contain}; every other live item passes.
VARIANTS_LIVE: dict[str, dict[str, list[str]]] = {
    # no failure: the training job has exited, and the plugin probes it with `docker compose run --rm`, so every
    # item of notebook_runner (the trainer) still runs, and as on the reference stack
    "trainer-one-shot.yml": {},
    # no failure either: MLflow's own concurrency defaults on SQLite; what it must show is in VARIANT_PROOFS
    "sqlite-mlflow-defaults.yml": {},
    "consumer-store-elsewhere.yml": {
        "volume-paths[mlflow_data]": [
            "consumer_moved   /app/mlruns  <- differs",
            "was not found by: consumer_moved",
            "service consumer_moved:\n    volumes:\n      - mlflow_data:/mlruns",
        ],
        "model-load[consumer_moved]": [
            "that directory does not exist in consumer_moved",
            "consumer_moved: it mounts mlflow_data at /app/mlruns.",
            "Fix, in service consumer_moved:\n    volumes:\n      - mlflow_data:/mlruns",
        ],
    },
    "trainer-without-store.yml": {
        "volume-paths[mlflow_data]": [
            "notebook_runner  (not mounted)  <- differs",
            "was not found by: notebook_runner",
        ],
        "model-load[api]": [
            "but notebook_runner does not: the artifacts notebook_runner logged stayed inside its own container",
            "Fix, in service notebook_runner:\n    volumes:\n      - mlflow_data:/mlruns",
        ],
    },
    "uid-mismatch.yml": {
        "uid-mapping[mlflow_data]": [
            "api              mlflow_data -> /mlruns  ",  # (the mount column is as wide as the group's mounts)
            "runs as 1001:1001",
            "api (1001:1001) cannot rewrite the file mlflow created",
            'user: "1000:1000"',
        ],
        "model-load[api]": ["api (uid 1001:1001) cannot write the model's directory /mlruns/", "registered_model_meta"],
    },
    "sqlite-unmounted.yml": {
        "sqlite-backend[mlflow-restart-recreate]": [
            "The registry lost smartmaint-smoke-",
            "after a forced recreate of mlflow",
            "HTTP 404",
            "the file is /tmp/mlflow.db, on no mount",
            "- ./mlflow_db:/mlflow_db",
        ],
    },
    "consumer-store-read-only.yml": {
        "model-load[consumer_ro]": [
            "cannot write the model's directory /mlruns/",
            "(mounted read-only)",
            "consumer_ro: it mounts mlflow_data at /mlruns read-only.",
        ],
    },
    "tracking-uri-wrong-port.yml": {  # MLflow's retries are bounded: this fails as fast as the reference passes
        "mlflow-reachable[consumer_port]": [
            "consumer_port cannot reach mlflow: GET http://mlflow:5001/api/2.0/mlflow/experiments/search",
            "Connection refused",
            "Expected: MLFLOW_TRACKING_URI: http://mlflow:5000",
        ],
        "model-load[consumer_port]": [
            "the registry is unreachable from consumer_port",
            "Connection refused",
            "See mlflow-reachable",
        ],
    },
    "redis-own-network.yml": {
        "depends-reachable[api->redis]": [
            "api cannot resolve the name redis: socket.gaierror",
            "They share no network (api: default; redis: datastore)",
            "Fix, in service api, join a network of redis:\n    networks:\n      - datastore\n      - default",
        ],
    },
    "redis-loopback-only.yml": {
        "depends-reachable[api->redis]": [
            "api cannot reach redis (",
            "redis:6379  refused  listens at 127.0.0.1",
            "redis listens on 6379 only at 127.0.0.1, so other containers are refused",
        ],
    },
    "test-image-without-pytest.yml": {
        "test-deps[notebook_runner]": [
            "the tests cannot run in notebook_runner:",
            "- pytest does not import: ModuleNotFoundError: No module named 'pytest'",
            "- pytest-timeout: not installed",
            "declared in requirements-test.txt",
        ],
    },
    "no-resampy.yml": {
        "audio-deps[api]": [
            "The audio stack does not import in api:",
            "resampy: ModuleNotFoundError: No module named 'resampy'",
            "Fix: add resampy to the dependency file",
        ],
    },
    "api-process-own-tracking-uri.yml": {
        "serving[api]": [
            "api does not serve models:/smartmaint-smoke-",
            "registered from notebook_runner: POST http://api:8000/api/v1/ml/predict from notebook_runner got HTTP 500",
            'HTTP 500: {"error": "MlflowException: The filesystem tracking backend',
            "Cause: api's process reads other settings than its container's environment",
            "(python3 /app/api.py): MLFLOW_TRACKING_URI=file:///tmp/mlruns, the container's environment: "
            "http://mlflow:5000",
            "model-load[live-api] loads the same model in api's container with the container's settings",
        ],
    },
    "no-allowed-hosts.yml": {
        f"mlflow-reachable[{client}]": [
            f"mlflow refuses {client}: GET http://mlflow:5000/api/2.0/mlflow/experiments/search",
            'HTTP 403 "Invalid Host header - possible DNS rebinding attack detected" (while /health answers 200)',
            "command: mlflow server ... --allowed-hosts mlflow:5000,localhost:*,127.0.0.1:*",
        ]
        for client in ("api", "notebook_runner")
    }
    | {
        # the smoke model cannot even be registered: every consumer says so, naming the trainer
        f"model-load[{consumer}]": ["could not be trained and registered from notebook_runner", "403"]
        for consumer in ("api", "notebook_runner")
    }
    | {"sqlite-backend[mlflow-restart-recreate]": ["the smoke model could not be registered"]}
    | {"sqlite-backend[mlflow-write-burst]": ["no write reached the registry from notebook_runner", "HTTP 403"]},
}


# Variants whose failures are independent (other services, other items) share one bring-up: each still
# proves its own items and fragments, and every item none of them names behaves as on the reference stack.
# A variant that breaks one model consumer does it in a consumer of its own (ADDED_CONSUMERS), not in api,
# so that it does not collide with the other variants' model-load[api].
VARIANT_GROUPS = [
    # (no-resampy builds FROM the image notebook_runner builds: test-image-without-pytest would change it)
    (
        "sqlite-unmounted.yml",
        "redis-own-network.yml",
        "no-resampy.yml",
        "api-process-own-tracking-uri.yml",
        "consumer-store-elsewhere.yml",
        "trainer-one-shot.yml",
    ),
    (
        "uid-mismatch.yml",
        "redis-loopback-only.yml",
        "test-image-without-pytest.yml",
        "consumer-store-read-only.yml",
        "tracking-uri-wrong-port.yml",
        "sqlite-mlflow-defaults.yml",
    ),
    ("trainer-without-store.yml",),
    ("no-allowed-hosts.yml",),
]
# Groups run on the second engine (conftest.SecondEngine), reached through a docker context as a user who switched
# to a remote engine reaches it: the same assertions, against the same reference run (on that engine too).
THROUGH_A_DOCKER_CONTEXT = [("no-allowed-hosts.yml",)]


def burst_on_mlflow_defaults(stdout: str, items: dict[str, Record]) -> None:
    """sqlite-mlflow-defaults.yml: four workers and the job runner are reported (static warnings) and the write
    burst measures them; the server still survives a restart and a recreate. The reference stack (one worker, no
    job runner) runs the same burst in the reference run."""
    assert items["sqlite-backend[static-mlflow]"]["outcome"] == "passed"
    warnings = stdout.split("warnings summary")[1].split("short test summary")[0]
    assert "SmartmaintWarning: mlflow runs 4 worker processes (MLflow default) on one SQLite file" in warnings
    assert (
        "SmartmaintWarning: mlflow runs MLflow's job runner (MLFLOW_SERVER_ENABLE_JOB_EXECUTION in compose environment)"
        in warnings
    )
    burst = items["sqlite-backend[live-mlflow-write-burst]"]
    assert burst["outcome"] == "passed", burst["message"]
    facts = burst["facts"]
    assert (facts["writers"], facts["runs"], facts["requests"]) == (8, 160, 481)  # 3 writes a run, 1 experiment
    assert facts["errors"] == 0 and facts["errors_by_kind"] == {}
    assert facts["writes_per_s"] > 0 and facts["seconds"] > 0
    assert (facts["workers"], facts["job_execution"]) == ("4", "true")
    assert items["sqlite-backend[live-mlflow-restart-recreate]"]["outcome"] == "passed"


# What a variant must show besides its failing items: (the run's output, its items by check[tier-subject])
VARIANT_PROOFS: dict[str, Callable[[str, dict[str, Record]], None]] = {
    "sqlite-mlflow-defaults.yml": burst_on_mlflow_defaults,
}

# Services a variant adds: each has the reference api's image, user and tracking URI, so each of its items
# stands for the same item of api on the reference stack (model-load[consumer_ro] for model-load[api]).
ADDED_CONSUMERS = ("consumer_moved", "consumer_ro", "consumer_port")


def as_reference(item: str) -> str:
    """The reference stack's item that an item of an added consumer stands for; any other item is itself."""
    check, _, subject = item.partition("[")
    for added in ADDED_CONSUMERS:
        subject = re.sub(rf"(?<!\w){added}(?!\w)", "api", subject)
    return f"{check}[{subject}"


def cause(record: dict[str, object]) -> str | None:
    """The item a failed item names as its cause (``model-load[live-api]``), as VARIANTS_LIVE names items."""
    caused_by = (record.get("facts") or {}).get("caused_by")  # type: ignore[attr-defined]
    return str(caused_by).replace("[live-", "[", 1) if caused_by else None


def test_every_variant_is_run_once() -> None:
    names = [variant for group in VARIANT_GROUPS for variant in group]
    assert sorted(names) == sorted(VARIANTS_LIVE) and set(VARIANT_PROOFS) <= set(names)
    assert all(group in VARIANT_GROUPS for group in THROUGH_A_DOCKER_CONTEXT)
    for group in VARIANT_GROUPS:  # independent: no two variants of a group name the same item
        items = [item for variant in group for item in VARIANTS_LIVE[variant]]
        assert len(items) == len(set(items)), group


def group_id(group: tuple[str, ...]) -> str:
    name = "+".join(v.removesuffix(".yml") for v in group)
    return f"{name}-through-a-docker-context" if group in THROUGH_A_DOCKER_CONTEXT else name


@pytest.mark.parametrize("group", VARIANT_GROUPS, ids=group_id)
def test_broken_variant_fails_exactly_its_checks_with_the_diagnosis(
    tmp_path: Path, group: tuple[str, ...], ml_image: None, reference_run: ReferenceRun, request: pytest.FixtureRequest
) -> None:
    engine: SecondEngine | None = (
        request.getfixturevalue("second_engine") if group in THROUGH_A_DOCKER_CONTEXT else None
    )
    env = engine.context(tmp_path / "docker-config") if engine else None
    result, records = smartmaint(tmp_path, variants=group, env=env)  # the whole suite: a proof may read a static item
    assert result.returncode == 1, result.stdout[-4000:]
    if engine:  # the stack ran there, and nothing of it is left there
        assert engine.header("docker context second-engine") in result.stdout
        assert not engine.left_by(project_of(result.stdout))
    live = {f"{r['check']}[{r['subject']}]": r for r in records if r["tier"] == "live"}
    reference = reference_run.outcomes("live")
    assert {as_reference(name) for name in live} == set(reference)  # the reference stack's items (and api's again)
    expected = {item: fragments for variant in group for item, fragments in VARIANTS_LIVE[variant].items()}
    # an item downstream of an expected failure fails too, naming it (its facts' caused_by): its own tests prove it
    caused = {name for name, r in live.items() if cause(r) in expected and r["outcome"] == "failed"}
    unchanged = {name: r["outcome"] for name, r in live.items() if name not in expected and name not in caused}
    as_on_reference = {name: reference[as_reference(name)] for name in unchanged}
    assert unchanged == as_on_reference, {
        n: live[n]["message"][:500] for n in unchanged if unchanged[n] != as_on_reference[n]
    }
    for name, fragments in expected.items():
        assert live[name]["outcome"] == "failed", (name, live[name]["message"][:1500])
        for fragment in fragments:
            assert fragment in live[name]["message"], live[name]["message"]
    assert "logs of " in result.stdout  # failing live items carry the last log lines of the services involved
    items = {f"{r['check']}[{r['tier']}-{r['subject']}]": r for r in records}
    for variant in set(group) & set(VARIANT_PROOFS):
        VARIANT_PROOFS[variant](result.stdout, items)


def test_stack_that_never_gets_healthy_is_reported_and_torn_down(tmp_path: Path) -> None:
    result, records = smartmaint(
        tmp_path, "-k", "live", "-o", "smartmaint_startup_timeout=30", variants=("never-healthy.yml",)
    )
    assert result.returncode == 1, result.stdout[-4000:]
    assert {r["outcome"] for r in records} == {"error"}
    message = records[0]["message"]
    assert "the stack did not become healthy" in message
    assert "-api-1: status running" in message and "last healthcheck output: model cache not ready" in message
    assert "Traceback" not in result.stdout


def test_a_server_that_cannot_open_its_db_is_diagnosed_by_cause_once(tmp_path: Path) -> None:
    """A root-owned fresh volume under a server running as 1000:1000: the cause, not the SQLAlchemy traceback."""
    result, records = smartmaint(
        tmp_path, "-k", "live", "-o", "smartmaint_startup_timeout=30", variants=("db-dir-root-owned.yml",)
    )
    assert result.returncode == 1, result.stdout[-4000:]
    assert {r["outcome"] for r in records} == {"error"}
    full = [r for r in records if "Cause:" in r["message"]]
    assert len(full) == 1, [r["message"][:200] for r in records]
    message = full[0]["message"]
    assert (
        "Cause: mlflow runs as 1000:1000, but the directory of its SQLite backend /var/lib/mlflow (on the named "
        "volume mlflow_state) is owned by 0:0 with mode 755"
    ) in message
    assert "RUN mkdir -p /var/lib/mlflow && chown 1000:1000 /var/lib/mlflow" in message
    first = f"smartmaint::{full[0]['check']}[live-{full[0]['subject']}]"
    assert all(f"the diagnosis is reported once, at {first}" in r["message"] for r in records if r is not full[0])
    errors_section = result.stdout.split("short test summary info")[0]  # (with CI set, -rA repeats messages whole)
    assert errors_section.count("Cause: mlflow runs as 1000:1000") == 1
