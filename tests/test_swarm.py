"""Swarm without a swarm: its static rules on small projects, the stack file Swarm's own loader reads, and the
options' usage errors. The deployed runs are in test_xdist.py (a one-node swarm)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from pathlib import Path

import pytest

from pytest_smartmaint.live.swarm_stack_file import stack_file
from pytest_smartmaint.static.compose import load_project
from pytest_smartmaint.static.stack_model import StackModel
from static_helpers import load, verdict

REPO = Path(__file__).resolve().parents[1]
PINNED = "    deploy: {placement: {constraints: [node.hostname == a]}}\n"


def on(nodes: int | None, project_dir: Path, *overrides: str) -> StackModel:
    """The project's model for a swarm of ``nodes`` nodes (None: static only, the swarm unknown)."""
    return dataclasses.replace(load(project_dir, *overrides, swarm=True), swarm_nodes=nodes)


def named_volume(project_dir: Path) -> str:
    """The base project with its artifact store in a named volume that mlflow, trainer and api share."""
    return (
        "services:\n"
        + "".join(f"  {s}:\n    volumes: !override\n      - store:/mlruns\n" for s in ("trainer", "api"))
        + "  mlflow:\n    volumes: !override\n      - ./mlflow_db:/mlflow_db\n      - store:/mlruns\n"
        + "volumes:\n  store: {}\n"
    )


def test_no_swarm_item_unless_the_stack_is_meant_for_swarm(project_dir: Path) -> None:
    from pytest_smartmaint.checks import REGISTRY

    assert not [c for c in REGISTRY.static_cases(load(project_dir, named_volume(project_dir))) if c.check == "swarm"]


def test_a_shared_named_volume_fails_only_on_a_swarm_of_more_than_one_node(project_dir: Path) -> None:
    override = named_volume(project_dir)
    message = verdict(on(2, project_dir, override), "swarm", "volume-store")
    assert "api, mlflow, trainer share the named volume store, but the swarm has 2 nodes" in message
    assert "api, mlflow, trainer have no constraint that names a node" in message
    assert "constraints: [node.hostname == <one node>]" in message
    one = verdict(on(1, project_dir, override), "swarm", "volume-store")
    assert one.startswith("skipped: nothing keeps api, mlflow, trainer") and "the swarm has one node" in one
    unknown = verdict(on(None, project_dir, override), "swarm", "volume-store")
    assert unknown.startswith("skipped:") and "--smartmaint-swarm checks against it" in unknown


def test_a_shared_volume_pinned_to_one_node_or_on_a_network_share_passes(project_dir: Path) -> None:
    pins = "services:\n" + "".join(f"  {s}:\n{PINNED}" for s in ("mlflow", "trainer", "api"))
    assert verdict(on(3, project_dir, named_volume(project_dir), pins), "swarm", "volume-store") == "passed"
    nfs = "volumes:\n  store:\n    driver_opts: {type: nfs, o: 'addr=10.0.0.1,rw', device: ':/export'}\n"
    assert verdict(on(3, project_dir, named_volume(project_dir), nfs), "swarm", "volume-store") == "passed"
    labels = "services:\n" + "".join(
        f"  {s}:\n    deploy: {{placement: {{constraints: [node.labels.mlflow == true]}}}}\n"
        for s in ("mlflow", "trainer", "api")
    )
    skipped = verdict(on(3, project_dir, named_volume(project_dir), labels), "swarm", "volume-store")
    assert skipped.startswith("skipped:") and "node.labels.mlflow == true" in skipped


def test_a_shared_volume_pinned_to_two_nodes_or_global_fails(project_dir: Path) -> None:
    split = "services:\n  mlflow:\n" + PINNED + "  trainer:\n" + PINNED + "  api:\n" + PINNED.replace("== a", "== b")
    message = verdict(on(2, project_dir, named_volume(project_dir), split), "swarm", "volume-store")
    assert "they are pinned to different nodes" in message and "api: node.hostname == b" in message
    spread = "services:\n  api:\n    deploy: {mode: global}\n"
    message = verdict(on(2, project_dir, named_volume(project_dir), spread), "swarm", "volume-store")
    assert "api runs a task on every node (mode: global)" in message
    pinned_global = "services:\n" + "".join(f"  {s}:\n{PINNED}" for s in ("mlflow", "trainer", "api"))
    pinned_global += "  api:\n    deploy: {mode: global, placement: {constraints: [node.hostname == a]}}\n"
    assert (
        verdict(
            on(2, project_dir, named_volume(project_dir), pinned_global.replace("  api:\n" + PINNED, "")),
            "swarm",
            "volume-store",
        )
        == "passed"
    )


def test_an_sqlite_server_must_stay_one_writer(project_dir: Path) -> None:
    assert verdict(on(1, project_dir), "swarm", "sqlite-writer-mlflow") == "passed"  # defaults
    start_first = "services:\n  mlflow:\n    deploy: {update_config: {order: start-first}}\n"
    message = verdict(on(1, project_dir, start_first), "swarm", "sqlite-writer-mlflow")
    assert "mlflow keeps MLflow's backend store in /mlflow_db/mlflow.db" in message
    assert "update_config.order: start-first starts the new task before it stops the old one" in message
    assert "order: stop-first" in message
    two = "services:\n  mlflow:\n    deploy: {replicas: 2, rollback_config: {order: start-first}}\n"
    message = verdict(on(1, project_dir, two), "swarm", "sqlite-writer-mlflow")
    assert "2 replicas run at once" in message and "rollback_config.order: start-first" in message


def test_a_dependent_that_swarm_would_not_restart_fails(project_dir: Path) -> None:
    assert verdict(on(1, project_dir), "swarm", "restart-api") == "passed"  # default: any
    never = "services:\n  api:\n    deploy: {restart_policy: {condition: none}}\n"
    message = verdict(on(1, project_dir, never), "swarm", "restart-api")
    assert "api depends on mlflow, but Swarm ignores depends_on" in message
    assert "restart condition is none (deploy.restart_policy.condition)" in message
    assert "condition: on-failure" in message
    # `restart: "no"` with no restart_policy sets no policy in Swarm (docker/cli convertRestartPolicy): the default
    assert verdict(on(1, project_dir, "services:\n  api:\n    restart: 'no'\n"), "swarm", "restart-api") == "passed"


def test_an_image_swarm_cannot_have_fails_and_one_it_may_not_pull_skips(project_dir: Path) -> None:
    message = verdict(on(1, project_dir), "swarm", "image-api")  # build: and no image:
    assert "api has build: and no image:. Swarm ignores build:" in message
    hub = "services:\n  api:\n    image: team/api:1\n"
    assert verdict(on(1, project_dir, hub), "swarm", "image-api").startswith(
        "skipped: api builds team/api:1 here. A node without it pulls docker.io/team/api:1"
    )
    registry = "services:\n  api:\n    image: registry.example:5000/team/api:1\n"
    assert verdict(on(1, project_dir, registry), "swarm", "image-api") == "passed"


def test_the_reference_stack_file_is_read_by_swarms_own_loader_with_what_it_ignores_named(tmp_path: Path) -> None:
    """`docker stack config` is the loader `docker stack deploy` runs, without an engine."""
    reference = load_project([REPO / "docker-compose.test.yml", REPO / "tests/variants/user-container-name.yml"])
    images = {name: f"smartmaint-reference/{name}:latest" for name in reference.services}
    deployable = stack_file(reference.config, images)
    path = tmp_path / "stack.json"
    path.write_text(deployable.text)
    done = subprocess.run(["docker", "stack", "config", "-c", str(path)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    notes = "\n".join(deployable.notes)
    assert "build: mlflow, notebook_runner, postgres, redis (Swarm does not build" in notes
    assert "depends_on: api, notebook_runner (Swarm starts services in any order" in notes
    assert "container_name:" in notes
    data = json.loads(deployable.text)
    assert "name" not in data["volumes"]["mlflow_data"]  # in the stack's namespace, never the compose project's
    assert all(spec["image"] for spec in data["services"].values())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--smartmaint-project=p", "--smartmaint-swarm"], "--smartmaint-project checks a compose project"),
        (["--smartmaint-swarm", "--smartmaint-swarm-stack=s"], "Drop one of them"),
        (["--smartmaint-static", "--smartmaint-swarm-stack=s"], "--smartmaint-static --smartmaint-swarm"),
        (["--smartmaint-keep", "--smartmaint-swarm-stack=s"], "--smartmaint-swarm-stack starts none"),
        (["--smartmaint-swarm", "-o", "smartmaint_swarm_engines=worker-1"], "'worker-1' is not NODE=ENDPOINT"),
    ],
)
def test_contradicting_swarm_options_are_one_usage_error(
    pytester: pytest.Pytester, stack: Path, args: list[str], message: str
) -> None:
    result = pytester.runpytest_subprocess("--smartmaint", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{message}*"])
    assert "Traceback" not in result.stderr.str()


def test_swarm_rules_alone_need_no_engine(pytester: pytest.Pytester, stack: Path) -> None:
    result = pytester.runpytest_subprocess(
        "--smartmaint", "--smartmaint-static", "--smartmaint-swarm", "-rA", "-p", "no:cacheprovider"
    )
    result.stdout.fnmatch_lines(
        [
            "*smartmaint: tier: static; stack: static only, no containers; Swarm's rules (--smartmaint-swarm)*",
            "*smartmaint: what Swarm ignores or rejects in these files: build: api, mlflow, trainer*",
        ]
    )
    result.stdout.fnmatch_lines(["PASSED smartmaint::swarm?static-restart-api?"])
    result.stdout.fnmatch_lines(["FAILED smartmaint::swarm?static-image-api? - api has build: and no image:*"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_restart_reaches_swarm_which_converts_it_where_no_restart_policy_is_set() -> None:
    """docker/cli turns `restart:` into the restart policy of a service that has none: it must not be dropped."""
    deployable = stack_file({"services": {"job": {"image": "team/job:1", "restart": "on-failure"}}}, {})
    assert json.loads(deployable.text)["services"]["job"]["restart"] == "on-failure"
    assert not [note for note in deployable.notes if note.startswith("restart")]


# `docker stack ps --no-trunc --format` as Docker 20.10 prints it for a stack whose service a had its task's
# process killed (Swarm replaced it) and whose one-shot service j (restart condition none) ran to its end
STACK_PS = """\
xrkm6ehrl4b1dcqkuz3ymqio2|tst_a.1|vm|Running|Running less than a second ago
62axibggkhyt2co8kfvmpvvtn|tst_a.1|vm|Shutdown|Failed 6 seconds ago
k5bg4k6aeb1npw1crsdtqudeg|tst_j.1|vm|Shutdown|Complete 11 seconds ago
"""


def test_a_replaced_task_counts_once_its_replacement_runs_and_a_completed_job_counts_as_converged() -> None:
    from pytest_smartmaint.live.swarm_runner import Task, _converged

    tasks = [task for line in STACK_PS.splitlines() if (task := Task.parse(line, "tst"))]
    a = [task for task in tasks if task.service == "a"]
    j = [task for task in tasks if task.service == "j"]
    killed = "62axibggkhyt2co8kfvmpvvtn"
    assert [task.id for task in a if task.running] == ["xrkm6ehrl4b1dcqkuz3ymqio2"] and a[0].node == "vm"
    assert _converged("1/1", a, replaced={killed})  # the killed one is gone, its replacement runs
    assert not _converged("1/1", a, replaced={"xrkm6ehrl4b1dcqkuz3ymqio2"})  # still the task it replaced
    # just after the kill: `service ls` still counts 1/1, but no task runs yet (nor is one held in Starting)
    assert not _converged("1/1", a[1:], replaced={killed})
    assert not _converged("0/1", [Task("x", "a", "vm", "Running", "Starting"), *a[1:]], replaced={killed})
    assert _converged("0/1", j, replaced=set()) and _converged("0/0", [], replaced=set())
    assert not _converged("0/1", [Task("x", "j", "vm", "Running", "Starting")], replaced=set())
    assert Task.parse("not a task line", "tst") is None
