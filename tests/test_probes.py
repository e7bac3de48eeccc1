"""The in-container probe scripts, run on the host: the JSON each prints, on real inputs.

The host is one more environment the probes must survive: what it lacks (librosa, an MLflow
server) must show up as a finding in the JSON, never as a crash of the probe.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from pytest_smartmaint.live import probes
from pytest_smartmaint.live.compose_runner import PROBE_ENV
from pytest_smartmaint.live.facts import (
    AudioRoundTrip,
    LoadLayer,
    MigrationHistory,
    ModelLoad,
    Reach,
    ServerFacts,
    ServiceFacts,
    WriteBurst,
    parse_listeners,
)


def probe(name: str, arg: object = None, **env: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", probes.source(name), json.dumps(arg)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **PROBE_ENV, **env},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class FakeMlflow(BaseHTTPRequestHandler):
    """/health answers 200; every API path answers what MLflow 3 answers to a Host it does not admit."""

    def do_GET(self) -> None:
        if self.path == "/health":
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"OK")
        elif "model-versions/get" in self.path:
            self.send_response(404)
            self.end_headers()
            self.wfile.write(b'{"error_code": "RESOURCE_DOES_NOT_EXIST"}')
        else:
            self.send_response(403)
            self.end_headers()
            self.wfile.write(b"Invalid Host header - possible DNS rebinding attack detected")

    do_POST = do_GET  # noqa: N815 (http.server's naming): writes are refused the same way

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = HTTPServer(("127.0.0.1", 0), FakeMlflow)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_facts_tell_who_runs_what_is_mounted_and_installed() -> None:
    facts = ServiceFacts.parse(probe("facts", MLFLOW_TRACKING_URI=f"http://127.0.0.1:{closed_port()}"))
    assert facts.user == f"{os.getuid()}:{os.getgid()}"
    assert any(m.target == "/" for m in facts.mounts)
    assert set(facts.packages) >= {"mlflow", "librosa", "soundfile"}
    assert facts.packages["librosa"] is None  # not on the host: reported, not a crash
    assert facts.api is not None and facts.api.status is None and "Connection refused" in facts.api.error


def test_facts_tell_a_refused_host_header_from_a_dead_server(server: str) -> None:
    facts = ServiceFacts.parse(probe("facts", MLFLOW_TRACKING_URI=server))
    assert facts.health is not None and facts.health.status == 200
    assert facts.api is not None and facts.api.status == 403 and "Invalid Host header" in facts.api.body


def test_facts_without_a_tracking_uri_make_no_call() -> None:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    done = subprocess.run(
        [sys.executable, "-c", probes.source("facts"), "null"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    facts = json.loads(done.stdout)
    assert facts["tracking_uri"] is None and "api" not in facts


def test_registry_lookup_reports_the_status(server: str) -> None:
    assert probe("registry_lookup", {"name": "m", "version": "1"}, MLFLOW_TRACKING_URI=server)["status"] == 404
    dead = probe(
        "registry_lookup", {"name": "m", "version": "1"}, MLFLOW_TRACKING_URI=f"http://127.0.0.1:{closed_port()}"
    )
    assert dead["status"] is None and "Connection refused" in dead["error"]


def test_server_facts_read_the_sqlite_tables(tmp_path: Path) -> None:
    db = tmp_path / "mlflow.db"
    with sqlite3.connect(db) as connection:
        connection.execute("create table experiments (id integer)")
        connection.execute("create table alembic_version (version_num text)")
        connection.execute("insert into alembic_version values ('1a0cddfcaa16')")
    facts = ServerFacts.parse(probe("server_facts", {"db": str(db)}))
    assert facts.db_exists and facts.tables == ("alembic_version", "experiments")
    assert facts.revision == "1a0cddfcaa16"  # backend-schema compares it with the server's migrations
    assert probe("server_facts", {"db": str(tmp_path / "none.db")})["db_exists"] is False


def test_server_facts_find_the_server_process_with_its_argv_and_mlflow_env(tmp_path: Path) -> None:
    fake = tmp_path / "mlflow"  # a process whose command line reads `mlflow server ...`, as the server's does
    fake.write_text("#!/usr/bin/env python3\nimport time\ntime.sleep(60)\n")
    fake.chmod(0o755)
    argv = [str(fake), "server", "--backend-store-uri=sqlite:////mlflow_db/mlflow.db"]
    process = subprocess.Popen(argv, env={**os.environ, "MLFLOW_ALLOWED_HOSTS": "mlflow:5000"}, cwd=tmp_path)
    try:
        time.sleep(0.5)
        raw = probe("server_facts", {"db": None})
        found = [p for p in raw["processes"] if p["pid"] == process.pid]
    finally:
        process.kill()
        process.wait()
    assert found and found[0]["argv"][-2:] == argv[1:]
    assert found[0]["env"]["MLFLOW_ALLOWED_HOSTS"] == "mlflow:5000" and found[0]["cwd"] == str(tmp_path)
    parsed = ServerFacts.parse(raw)
    assert any(
        p.argv[-2:] == tuple(argv[1:]) and p.env == {"MLFLOW_ALLOWED_HOSTS": "mlflow:5000"} for p in parsed.processes
    )


def test_schema_history_says_why_it_cannot_read_the_migrations() -> None:
    """The host's MLflow is mlflow-skinny, without alembic: an error in the JSON, not a crash. The live tier
    reads real migrations in the server images (tests/test_live_schema.py)."""
    history = MigrationHistory.parse(probe("schema_history"))
    installed = next((d.version for d in map(_distribution, ("mlflow", "mlflow-skinny")) if d), None)
    assert history.mlflow == installed
    if history.revisions:  # alembic is there after all: then the head is the first revision
        assert history.head == history.revisions[0]
        assert history.behind(history.revisions[-1]) == len(history.revisions) - 1
    else:
        assert history.error and history.head is None and history.behind("1a0cddfcaa16") is None


def _distribution(name: str) -> metadata.Distribution | None:
    try:
        return metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return None


def test_load_model_names_the_registry_layer_when_the_server_is_down() -> None:
    raw = probe("load_model", {"name": "m", "version": "1"}, MLFLOW_TRACKING_URI=f"http://127.0.0.1:{closed_port()}")
    result = ModelLoad.parse(raw)
    assert result.layer is LoadLayer.REGISTRY and result.uid == os.getuid(), raw


def test_audio_roundtrip_reports_what_is_missing() -> None:
    result = AudioRoundTrip.parse(probe("audio_roundtrip"))
    assert set(result.imports) == {"numpy", "soundfile", "librosa", "resampy"}
    assert "librosa" in result.missing  # the host has no librosa: named, with its error
    assert result.import_errors["librosa"].startswith("ModuleNotFoundError")
    assert result.failed_step is None  # the round trip is not tried without the libraries


@pytest.mark.parametrize("name", ["register_model", "remove_smoke_model", "load_registry"])
def test_every_probe_compiles(name: str) -> None:
    """Those need MLflow, scikit-learn and a server in the container; the live tier runs them."""
    compile(probes.source(name), name, "exec")


def test_connect_tells_apart_unresolvable_refused_and_http(server: str) -> None:
    port = int(server.rsplit(":", 1)[1])
    unresolvable = Reach.parse(probe("connect", {"host": "no-such-service.invalid", "ports": [80]}))
    assert unresolvable.resolve_error and "gaierror" in unresolvable.resolve_error and unresolvable.ports == ()
    reach = Reach.parse(probe("connect", {"host": "127.0.0.1", "ports": [port, closed_port()], "http_ports": [port]}))
    web, closed = reach.ports
    assert (web.outcome, (web.http or "").split()[1]) == ("connected", "403")  # the fake server's answer to GET /
    assert closed.outcome == "refused" and "Connection refused" in closed.error


def test_connect_times_out_on_a_port_that_accepts_nothing() -> None:
    """A listener whose backlog is full drops new SYNs: the connection neither succeeds nor is refused."""
    with socket.socket() as full:
        full.bind(("127.0.0.1", 0))
        full.listen(0)
        port = full.getsockname()[1]
        waiting = []
        for _ in range(8):  # fill the accept queue; no accept() is ever called
            client = socket.socket()
            client.setblocking(False)
            client.connect_ex(("127.0.0.1", port))
            waiting.append(client)
        time.sleep(0.2)
        reach = Reach.parse(probe("connect", {"host": "127.0.0.1", "ports": [port], "timeout": 1}))
        for client in waiting:
            client.close()
    assert reach.ports[0].outcome == "timeout", reach


def test_listeners_are_read_from_proc_net_tcp_without_dockers_dns() -> None:
    proc = (
        "  sl  local_address rem_address   st\n"
        "   0: 00000000:18EB 00000000:0000 0A 00000000:00000000 00:00000000 00000000   100\n"  # 0.0.0.0:6379
        "   1: 0B00007F:9597 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0\n"  # 127.0.0.11: DNS
        "   2: 0100007F:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000   100\n"  # 127.0.0.1:5432
        "   3: 0100007F:D200 0100007F:1538 01 00000000:00000000 03:00001717 00000000     0\n"  # established
        "   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 0\n"  # [::1]:8080
    )
    listeners = parse_listeners(proc)
    assert [(li.address, li.port, li.loopback) for li in listeners] == [
        ("127.0.0.1", 5432, True),
        ("0.0.0.0", 6379, False),
        ("::1", 8080, True),
    ]


class LockedMlflow(BaseHTTPRequestHandler):
    """A tracking server whose SQLite is locked for every third log-batch: the answer MLflow gives then (HTTP
    500, "database is locked"). No real server reaches it on demand (MLflow waits 20 s for the lock), so the
    probe's counting is proven here; the live tier runs it on real servers (tests/test_live.py: the reference
    run, and sqlite-mlflow-defaults.yml)."""

    batches = 0
    lock = threading.Lock()

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path.endswith("experiments/create"):
            answer: tuple[int, object] = (200, {"experiment_id": "1"})
        elif self.path.endswith("runs/create"):
            answer = (200, {"run": {"info": {"run_id": body["run_name"]}}})
        elif self.path.endswith("runs/log-batch"):
            with LockedMlflow.lock:
                LockedMlflow.batches += 1
                locked = LockedMlflow.batches % 3 == 0
            answer = (500, {"error_code": "INTERNAL_ERROR", "message": "(sqlite3.OperationalError) database is locked"})
            answer = answer if locked else (200, {})
        else:
            answer = (200, {})
        self.send_response(answer[0])
        self.end_headers()
        self.wfile.write(json.dumps(answer[1]).encode())

    def log_message(self, *args: object) -> None:
        pass


def test_write_burst_counts_every_refused_write_by_kind() -> None:
    httpd = HTTPServer(("127.0.0.1", 0), LockedMlflow)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        uri = f"http://127.0.0.1:{httpd.server_address[1]}"
        raw = probe("write_burst", {"writers": 3, "runs": 4, "experiment": "e"}, MLFLOW_TRACKING_URI=uri)
    finally:
        httpd.shutdown()
    burst = WriteBurst.parse(raw)
    assert (burst.writers, burst.runs, burst.requests) == (3, 4, 1 + 3 * 4 * 3)
    assert burst.locked == 4 and burst.failed == 4 and burst.ok == burst.requests - 4  # every third of 12 batches
    assert burst.samples["database is locked"].startswith("POST runs/log-batch: ")
    assert burst.writes_per_s > 0


def test_write_burst_says_when_not_even_its_experiment_can_be_created(server: str) -> None:
    """FakeMlflow answers every API call 403, as MLflow 3 does to a Host it does not admit."""
    burst = WriteBurst.parse(
        probe("write_burst", {"writers": 2, "runs": 2, "experiment": "e"}, MLFLOW_TRACKING_URI=server)
    )
    assert burst.setup_error and burst.setup_error.startswith("HTTP 403, POST experiments/create: Invalid Host header")
    assert burst.requests == 1 and burst.ok == 0


def test_a_probes_mlflow_client_reports_nothing_outside_the_stack() -> None:
    """MLflow 3 clients send usage telemetry to a host outside the stack unless told not to; the probes' env
    tells them. (A bare env: the CI and pytest variables that also turn it off are not in a user's container.)"""
    ask = "from mlflow.telemetry.utils import is_telemetry_disabled; print(is_telemetry_disabled())"
    bare = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}

    def disabled(env: dict[str, str]) -> str:
        done = subprocess.run([sys.executable, "-c", ask], capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    assert disabled(bare) == "False"  # what a container's client does by itself
    assert disabled({**bare, **PROBE_ENV}) == "True"
