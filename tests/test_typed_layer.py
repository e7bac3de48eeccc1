"""The live layer's typed seams: memoisation cells, facts bound to their probes, raw command output parsed once.

The shell commands (``stat``, ``id``, ``[ -w ]``) run for real on the host, on real directories: the parser is
proven on the output the command really prints, not on a string typed in here.
"""

from __future__ import annotations

import ast
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

from pytest_smartmaint.errors import SmartmaintError
from pytest_smartmaint.live import facts, probes
from pytest_smartmaint.live.compose_runner import ComposeRunner, ProbeResult
from pytest_smartmaint.live.facts import DirectoryAccess, InspectedState, MigrationHistory, PathOwner
from pytest_smartmaint.live.once import Once, OnceEach
from pytest_smartmaint.live.probing import probe_each

PACKAGE = Path(__file__).resolve().parents[1] / "pytest_smartmaint"


def sh(command: str) -> str:
    return subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=30).stdout


def test_once_computes_once_across_threads_and_remembers_an_error() -> None:
    calls: list[int] = []
    cell: Once[int] = Once()
    start = threading.Barrier(8)
    got: list[int] = []

    def slow() -> int:
        calls.append(1)
        time.sleep(0.2)  # every other thread arrives while the first computes
        return len(calls)

    def caller() -> None:
        start.wait()
        got.append(cell.get(slow))

    threads = [threading.Thread(target=caller) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls == [1] and got == [1] * 8 and cell.get(lambda: 99) == 1 and cell.peek() == 1

    failing: Once[int] = Once()
    raised: list[int] = []

    def boom() -> int:
        raised.append(1)
        raise RuntimeError("probe failed")

    for _ in range(3):
        with pytest.raises(RuntimeError, match="probe failed"):
            failing.get(boom)
    assert raised == [1], "a failed fact is not probed again: every later caller gets the same error"
    assert failing.peek() is None and Once[int]().peek() is None


def test_once_each_probes_a_batch_once_and_under_xdist_only_the_key_asked_for() -> None:
    probed: list[list[str]] = []

    def probe(todo: list[str]) -> dict[str, str | Exception]:
        probed.append(todo)
        return {k: SmartmaintError(f"{k} failed") if k == "broken" else k.upper() for k in todo}

    batched: OnceEach[str, str] = OnceEach()
    everyone = ["api", "trainer", "broken"]
    assert batched.get("trainer", everyone, probe) == "TRAINER"
    assert batched.get("api", everyone, probe) == "API"
    for _ in range(2):
        with pytest.raises(SmartmaintError, match="broken failed"):
            batched.get("broken", everyone, probe)
    assert probed == [["trainer", "api", "broken"]], "the first caller probes the whole batch, once"

    probed.clear()
    alone: OnceEach[str, str] = OnceEach()  # the batch of a process that does not run every item: its key alone
    assert [alone.get(k, (), probe) for k in ("api", "trainer", "api")] == ["API", "TRAINER", "API"]
    assert probed == [["api"], ["trainer"]]

    def crash(todo: list[str]) -> dict[str, str | Exception]:
        probed.append(todo)
        raise RuntimeError("the pool broke")

    probed.clear()
    crashed: OnceEach[str, str] = OnceEach()
    for key in ("api", "trainer", "api"):
        with pytest.raises(RuntimeError, match="the pool broke"):
            crashed.get(key, everyone, crash)
    assert probed == [["api", "trainer", "broken"]], "a batch that failed as a whole is not probed again"


def test_once_per_key_keeps_each_key_apart() -> None:
    cells: OnceEach[str, str] = OnceEach()
    assert cells.one("api", lambda: "a") == "a"
    assert cells.one("trainer", lambda: "t") == "t"
    assert cells.one("api", lambda: "changed") == "a"

    def boom() -> str:
        raise SmartmaintError("probe failed")

    with pytest.raises(SmartmaintError, match="probe failed"):
        cells.one("broken", boom)
    with pytest.raises(SmartmaintError, match="probe failed"):  # its error is kept: no second probe runs
        cells.one("broken", lambda: "probed again")


def test_every_fact_names_a_probe_that_exists() -> None:
    bound = {name: cls.PROBE for name, cls in vars(facts).items() if isinstance(cls, type) and hasattr(cls, "PROBE")}
    assert bound, "no fact is bound to its probe"
    for name, probe in bound.items():
        assert probes.source(probe), f"{name}.PROBE names {probe}, which is not a module of live/probes"


def test_path_owner_reads_what_stat_prints(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    os.chmod(tmp_path, 0o750)
    owners = PathOwner.parse_lines(sh(PathOwner.command([str(tmp_path), str(tmp_path / "file")])))
    ids = f"{os.getuid()}:{os.getgid()}"
    assert [o.owner for o in owners] == [ids, ids]
    assert owners[0].mode == "750"
    assert PathOwner.parse_lines("stat: cannot statx '/x': No such file or directory\n") == []


def test_directory_access_reads_a_writable_and_a_missing_directory_and_refuses_other_output(tmp_path: Path) -> None:
    writable = DirectoryAccess.parse(sh(DirectoryAccess.command(str(tmp_path))))
    assert writable is not None and writable.writable and writable.uid == str(os.getuid())
    assert writable.owner is not None and writable.owner.owner == f"{os.getuid()}:{os.getgid()}"

    missing = DirectoryAccess.parse(sh(DirectoryAccess.command(str(tmp_path / "no such dir"))))
    assert missing is not None and missing.owner is None and not missing.writable

    assert DirectoryAccess.parse("sh: 1: id: not found\n") is None


def test_inspected_state_tells_a_crash_loop_from_a_first_start() -> None:
    looping = InspectedState.parse(
        {
            "Status": "running",
            "ExitCode": 0,
            "RestartCount": 0,
            "FinishedAt": "2026-12-02T10:00:05.1Z",
            "Health": {"Log": [{"Output": "curl: (7) refused\nlast line"}]},
        }
    )
    assert looping.looping and looping.exited_before and looping.last_probe == "last line"
    first = InspectedState.parse({"Status": "running", "FinishedAt": "0001-01-01T00:00:00Z"})
    assert not first.looping and first.last_probe == "(none yet)"
    assert InspectedState.parse({}).status == "?"


def test_the_live_layer_does_not_import_the_checks() -> None:
    """The checks hand the live layer their analyses (startup_diagnosis's file findings); it never imports them."""
    offenders = []
    for path in sorted((PACKAGE / "live").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                names = [*(node.module or "").split("."), *(a.name for a in node.names)]
            elif isinstance(node, ast.Import):
                names = [part for a in node.names for part in a.name.split(".")]
            else:
                continue
            if "checks" in names:
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert offenders == []


class PrintingRunner(ComposeRunner):
    """Stands in for containers (a mock, said so): no real container's probe prints a record with a field
    missing, or fails in one service only on demand. Each service "prints" what ``outputs`` holds for it."""

    def __init__(self, outputs: dict[str, ProbeResult]) -> None:
        super().__init__([], "stand-in")
        self.outputs = outputs

    def python(self, service: str, script: str, arg: object = None, timeout: float = 0) -> ProbeResult:
        return self.outputs[service]


def test_probe_each_keeps_one_services_failure_its_own() -> None:
    good = '{"mlflow": "3.17.2", "revisions": ["b", "a"], "error": null}'
    runner = PrintingRunner(
        {
            "server": ProbeResult("server", 0, good, ""),
            "broken": ProbeResult("broken", 1, "", "python3: not found"),
            "garbled": ProbeResult("garbled", 0, '{"revisions": 3}', ""),
        }
    )
    services = ["server", "broken", "garbled"]
    histories: OnceEach[str, MigrationHistory] = OnceEach()

    def history(service: str) -> MigrationHistory:
        return histories.get(service, services, lambda todo: probe_each(runner, todo, MigrationHistory))

    assert history("server").head == "b"
    with pytest.raises(SmartmaintError, match="exited 1"):
        history("broken")
    with pytest.raises(SmartmaintError, match="the schema_history probe in garbled printed what cannot be read"):
        history("garbled")
