"""Swarm on real nodes: an engine in no swarm (the second engine), a restart and a recreate on a one-node swarm, a
deploy that fails, a bind the run refuses, and two nodes (this machine's engine as the manager, the second engine,
tests/engine, as a worker).

A named volume of the local driver is made on each node that runs a task mounting it. A service placed on the
worker sees an empty volume of its own, not the server's: volume-paths says so live, naming the nodes. With a
placement constraint that keeps it beside the server, the same stack passes. One deploy: the stack is kept
after the failing run, its service moved to the manager (`docker service update --constraint-add`), and the
deployed stack checked again with --smartmaint-swarm-stack, which never updates or removes anything.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import PROJECT_NAME, SecondEngine, bridge_gateway, docker, one_node_swarm, run_suite

FILES = ("docker-compose.test.yml", "tests/swarm/dnsrr.yml", "tests/swarm/runner-on-the-worker.yml")
ONE_NODE = (
    "--smartmaint-compose-file",
    "docker-compose.test.yml",
    "--smartmaint-compose-file",
    "tests/swarm/dnsrr.yml",
)


@contextmanager
def two_node_swarm(worker: SecondEngine) -> Iterator[str]:
    """The tests' swarm of this machine's engine (the manager, advertised on the default bridge, which the
    worker's container is on) with ``worker`` joined to it for the block; it leaves afterwards, and the manager
    forgets its node. Yields the worker's node name."""
    with one_node_swarm() as made:
        if not made:  # a developer's swarm: its manager's address may be one the worker cannot reach
            message = "this machine's engine is in a swarm the tests did not make; they join no node to it"
            pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
        token = docker("swarm", "join-token", "-q", "worker").stdout.strip()
        joined = worker.docker("swarm", "join", "--token", token, f"{bridge_gateway()}:2377")
        assert joined.returncode == 0, joined.stderr
        node = worker.docker("info", "--format", "{{.Swarm.NodeID}}").stdout.strip()
        try:
            yield worker.docker("info", "--format", "{{.Name}}").stdout.strip()
        finally:
            worker.docker("swarm", "leave", "--force")
            docker("node", "rm", "--force", node)
            worker.docker("network", "rm", "docker_gwbridge")


@pytest.mark.live
def test_an_engine_in_no_swarm_is_a_usage_error_naming_docker_swarm_init(
    tmp_path: Path, second_engine: SecondEngine
) -> None:
    """The plugin never initialises, joins or leaves a swarm. The second engine is in none (this machine's may be
    in the tests' own swarm by now)."""
    assert second_engine.docker("info", "--format", "{{.Swarm.LocalNodeState}}").stdout.strip() == "inactive"
    refused, _ = run_suite(tmp_path, *ONE_NODE, "--smartmaint-swarm", env=second_engine.env)
    assert refused.returncode == pytest.ExitCode.USAGE_ERROR, refused.stdout[-2000:]
    assert "run `docker swarm init` (or `docker swarm join`) first" in refused.stderr
    assert "Traceback" not in refused.stderr


@pytest.mark.live
@pytest.mark.usefixtures("no_leftovers")
def test_a_named_volume_shared_across_two_nodes_fails_live_until_the_services_are_pinned_together(
    tmp_path: Path, second_engine: SecondEngine
) -> None:
    files = [arg for f in FILES for arg in ("--smartmaint-compose-file", f)]
    with two_node_swarm(second_engine) as worker:
        engines = ("-o", f"smartmaint_swarm_engines={worker}={second_engine.address}")
        split, _ = run_suite(
            tmp_path / "split", "-k", "volume-paths", *files, "--smartmaint-swarm", "--smartmaint-keep", *engines
        )
        stack = PROJECT_NAME.findall(split.stdout)[0]
        try:
            assert split.returncode == 1, split.stdout[-3000:]
            assert "FAILED smartmaint::volume-paths[live-mlflow_data]" in split.stdout
            assert (
                f"notebook_runner runs on node {worker}, mlflow on node " in split.stdout
                and "mlflow_data is a volume of the local driver, made on each node" in split.stdout
            ), split.stdout[-3000:]
            assert "The MLflow artifact store mlflow_data is not the same volume in every container" in split.stdout
            assert "notebook_runner  /mlruns (the volume of node " in split.stdout
            assert "A file written through mlflow at /mlruns/.smartmaint-sentinel-" in split.stdout
            assert "PASSED smartmaint::volume-paths[live-mlflow_db]" in split.stdout  # the server's alone
            assert f"remove it with: docker stack rm {stack}; " in split.stdout  # --smartmaint-keep kept it
            moved = docker(
                "service", "update", "--detach=false", "--constraint-rm", "node.role == worker",
                "--constraint-add", "node.role == manager", f"{stack}_notebook_runner",
            )  # fmt: skip
            assert moved.returncode == 0, moved.stderr
            pinned, _ = run_suite(
                tmp_path / "pinned", "-k", "volume-paths", *files, f"--smartmaint-swarm-stack={stack}", *engines
            )
            assert pinned.returncode == 0, pinned.stdout[-3000:]
            assert "PASSED smartmaint::volume-paths[live-mlflow_data]" in pinned.stdout
            assert f"check deployed swarm stack {stack} (read-mostly)" in pinned.stdout
            assert docker("service", "ls", "-q", "--filter", f"label=com.docker.stack.namespace={stack}").stdout.split()
        finally:
            from pytest_smartmaint.live.swarm_lifecycle import remove_stack

            remove_stack(stack, 120, {worker: second_engine.address})
        assert not second_engine.docker("ps", "-aq").stdout.split()
        assert not second_engine.docker("volume", "ls", "-q").stdout.split()


@pytest.mark.live
@pytest.mark.usefixtures("no_leftovers")
@pytest.mark.parametrize(
    ("variant", "verdict"),
    [
        pytest.param((), "PASSED", id="registry-on-a-volume"),
        pytest.param(("--smartmaint-compose-file", "tests/variants/sqlite-unmounted.yml"), "FAILED", id="unmounted"),
    ],
)
def test_on_swarm_a_restart_is_a_new_task_that_keeps_only_a_mounted_registry(
    tmp_path: Path, variant: tuple[str, ...], verdict: str
) -> None:
    """sqlite-backend's restart and recreate on Swarm: the task's process killed (Swarm starts a new task, a new
    container) and `docker service update --force`. The run waits until the new task runs, healthy, and its name
    resolves; a registry on the stack's volume survives both, one in the container's writable layer is lost at
    the restart already (under compose a restart keeps the container, and it is lost at the recreate)."""
    with one_node_swarm():
        result, records = run_suite(
            tmp_path, "-k", "sqlite-backend and live", *ONE_NODE, *variant, "--smartmaint-swarm"
        )
    assert f"{verdict} smartmaint::sqlite-backend[live-mlflow-restart-recreate]" in result.stdout, result.stdout[-3000:]
    if verdict == "PASSED":
        assert result.returncode == 0 and {r["outcome"] for r in records} == {"passed"}, result.stdout[-3000:]
    else:
        message = next(r["message"] for r in records if r["outcome"] == "failed")
        assert (
            "The registry lost smartmaint-smoke-" in message
            and "after a restart of mlflow (lookup: HTTP 404" in message
        )
        assert "the file is /tmp/mlflow.db, on no mount" in message and "- ./mlflow_db:/mlflow_db" in message


@pytest.mark.live
@pytest.mark.usefixtures("no_leftovers")
def test_a_deploy_that_never_converges_is_reported_with_its_tasks_and_removed(tmp_path: Path) -> None:
    never = ("--smartmaint-compose-file", "tests/variants/never-healthy.yml")
    with one_node_swarm():
        result, records = run_suite(
            tmp_path, "-k", "live", *ONE_NODE, *never, "--smartmaint-swarm", "-o", "smartmaint_startup_timeout=10"
        )
        stack = PROJECT_NAME.findall(result.stdout)[0]
        assert not docker("service", "ls", "-q", "--filter", f"label=com.docker.stack.namespace={stack}").stdout.split()
    assert result.returncode == 1, result.stdout[-3000:]
    assert {r["outcome"] for r in records} == {"error"}
    message = next(r["message"] for r in records if "did not converge" in r["message"])
    assert f"the swarm stack {stack} did not converge: not every task of api" in message
    assert "after 10 s (smartmaint_startup_timeout)" in message
    assert f"{stack}_api." in message  # its tasks, as `docker service ps` shows them
    assert "Traceback" not in result.stdout


@pytest.mark.live
def test_a_bind_of_the_servers_sqlite_file_stops_a_swarm_run_before_anything_is_deployed(tmp_path: Path) -> None:
    """A task would open that path on whichever node runs it; no volume can stand in for a file."""
    (tmp_path / "mlflow.db").write_bytes(b"")
    override = tmp_path / "sqlite-file.yml"
    override.write_text(
        f"services:\n  mlflow:\n    volumes: !override\n      - {tmp_path}/mlflow.db:/mlflow_db/mlflow.db\n"
    )
    with one_node_swarm():
        result, _ = run_suite(
            tmp_path / "out", "-k", "engine-resources", *ONE_NODE, "--smartmaint-compose-file", str(override),
            "--smartmaint-swarm",
        )  # fmt: skip
        assert not docker("service", "ls", "-q").stdout.split()
    assert result.returncode == 1, result.stdout[-3000:]
    assert (
        "nothing was started: the stack is deployed to a swarm, whose tasks keep data in volumes, and the server's "
        f"SQLite file is a bind of its own, which the run cannot redirect into a volume of the stack:\n"
        f"    mlflow: {tmp_path}/mlflow.db -> /mlflow_db/mlflow.db\n"
    ) in result.stdout, result.stdout[-3000:]
    assert (tmp_path / "mlflow.db").read_bytes() == b""
