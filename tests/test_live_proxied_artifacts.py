"""Proxied artifacts persist: a server that serves them (--serve-artifacts) keeps them on a mount, and the smoke
model loads after a forced recreate (tests/stacks/proxied, and tests/variants/proxied-artifacts-unmounted.yml).

The sound proxied stack passes the whole suite in test_live_stacks.py. Its own module, so that
`pytest tests -n 2 --dist loadfile` runs it beside the other live modules.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import STACKS, VARIANTS, run_suite

pytestmark = [pytest.mark.live, pytest.mark.usefixtures("no_leftovers")]


def test_artifacts_kept_on_no_mount_fail_in_the_files_and_after_a_recreate(tmp_path: Path) -> None:
    files = (STACKS / "proxied" / "docker-compose.yml", VARIANTS / "proxied-artifacts-unmounted.yml")
    result, records = run_suite(
        tmp_path,
        *(f"--smartmaint-compose-file={f}" for f in files),
        "-o",
        "smartmaint_test_services=",
        "-k",
        "volume-paths or sqlite-backend",
    )
    items = {f"{r['check']}[{r['tier']}-{r['subject']}]": r for r in records}
    assert result.returncode == 1, result.stdout[-4000:]
    static = items["volume-paths[static-/mlruns]"]
    assert static["outcome"] == "failed"
    assert str(static["message"]).startswith(
        "registry serves the artifacts (--serve-artifacts, artifact root mlflow-artifacts:/) and keeps them in /mlruns "
        "(--artifacts-destination in compose command), on no mount."
    )
    recreate = items["sqlite-backend[live-registry-restart-recreate]"]
    assert recreate["outcome"] == "failed"
    message = str(recreate["message"])
    assert message.startswith(
        f"The registry kept smartmaint-smoke-{message.split('smartmaint-smoke-')[1].split()[0]} version 1 through a "
        "forced recreate of registry, but train can no longer load it: MlflowException: Could not find an "
        '"MLmodel" configuration file'
    ), message
    assert (
        "registry serves the artifacts and keeps them in /mlruns (--artifacts-destination in compose command), "
        in message
    )
    assert "on no mount: the artifacts went with the container." in message
    assert "Fix, in service registry:\n    volumes:\n      - mlflow_artifacts:/mlruns" in message
    failed = {name for name, r in items.items() if r["outcome"] == "failed"}
    assert failed == {"volume-paths[static-/mlruns]", "sqlite-backend[live-registry-restart-recreate]"}, failed
