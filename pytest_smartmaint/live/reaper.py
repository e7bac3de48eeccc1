"""The reaper: a run killed with SIGKILL (a hard CI cancel, the OOM killer) leaves nothing for long.

SIGINT and SIGTERM unwind through teardown; SIGKILL runs no code at all. So, as testcontainers'
Ryuk does for its containers, every stack the plugin starts has a watcher: a small detached
process (a session of its own, so a signal to pytest's process group does not reach it) that
checks once every ``POLL_S`` whether the pytest process that owns the stack still runs. When the
owner is gone without having stopped it, the watcher

1. kills the commands the owner left running for the project (``docker compose -p <project>``
   ``up``/``exec``: their argv names the project, which is unique to the run), so that nothing
   recreates what it removes;
2. removes every container, network and volume labelled with the project, twice a second apart
   (the engine finishes creations already under way), and the run's directory;

and exits. A swarm stack of the run's name (--smartmaint-swarm) goes the same way: `docker stack rm`, then its
containers and volumes here and on the other nodes whose engines the run reaches. A normal end stops the
watcher after teardown, so ``--smartmaint-keep`` keeps. It
only ever touches the one project it was started for, and only once that project's owner is gone.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

POLL_S = 0.5
REMOVED_WITHIN_S = 30  # the promise, in README: a killed run's project is gone within this time
LABEL = "com.docker.compose.project"
STACK_LABEL = "com.docker.stack.namespace"  # a swarm stack (--smartmaint-swarm) of the same name


def start(project: str, run_dir: Path | None, engines: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start the watcher of ``project`` for this process; ``engines``: those of the other swarm nodes the run
    reaches (ini smartmaint_swarm_engines), where a swarm stack's containers and volumes are removed too."""
    owner = os.getpid()
    argv = [sys.executable, "-m", __name__, str(owner), _start_time(owner) or "-", project, str(run_dir or "")]
    argv.append(json.dumps(list((engines or {}).values())))
    return subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
    )


def stop(watcher: subprocess.Popen[bytes]) -> None:
    """The owner tore down (or keeps) its stack: the watcher has nothing more to do."""
    watcher.terminate()
    try:
        watcher.wait(timeout=5)
    except subprocess.TimeoutExpired:
        watcher.kill()
        watcher.wait(timeout=5)


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat): tells a reused pid apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def _alive(pid: int, started: str) -> bool:
    now = _start_time(pid)
    return now is not None and (started == "-" or now == started)


def _commands_of(project: str) -> list[int]:
    """Processes whose argv names the project (docker compose ... -p PROJECT ...), this one excepted."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if project.encode() in argv and b"docker" in b" ".join(argv):
            found.append(int(entry.name))
    return found


def _docker(*args: str) -> list[str]:
    try:
        result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return result.stdout.split()


def remove_project(project: str, engines: Sequence[str] = ()) -> bool:
    """Every swarm stack service, container, network and volume that carries the project's (or the stack's) label,
    also on the other swarm nodes' ``engines``; whether anything was found."""
    found = bool(_docker("service", "ls", "-q", "--filter", f"label={STACK_LABEL}={project}"))
    if found:  # stack rm takes its secrets and configs too; Swarm would replace what is removed below
        _docker("stack", "rm", project)
    for key, engine in itertools.product((LABEL, STACK_LABEL), [[], *(["--host", e] for e in engines)]):
        label = f"label={key}={project}"
        containers = _docker(*engine, "ps", "-aq", "--filter", label)
        if containers:
            _docker(*engine, "rm", "-f", "-v", *containers)
        networks = _docker(*engine, "network", "ls", "-q", "--filter", label)
        if networks:
            _docker(*engine, "network", "rm", *networks)
        volumes = _docker(*engine, "volume", "ls", "-q", "--filter", label)
        if volumes:
            _docker(*engine, "volume", "rm", "-f", *volumes)
        found = found or bool(containers or networks or volumes)
    return found


def reap(project: str, run_dir: str, engines: Sequence[str] = ()) -> None:
    for pid in _commands_of(project):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    deadline = time.monotonic() + REMOVED_WITHIN_S - 5
    for attempt in range(REMOVED_WITHIN_S):  # twice at least; a swarm's tasks take a few seconds more to go
        time.sleep(1)
        if not remove_project(project, engines) and attempt >= 1 or time.monotonic() > deadline:
            break
    if run_dir:
        shutil.rmtree(run_dir, ignore_errors=True)


def main(argv: list[str]) -> int:
    owner, started, project, run_dir = int(argv[0]), argv[1], argv[2], argv[3]
    engines = [str(e) for e in json.loads(argv[4])] if len(argv) > 4 else []
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stopped by its owner: a normal end
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while _alive(owner, started):
        time.sleep(POLL_S)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the owner is gone: finish the job
    reap(project, run_dir, engines)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
