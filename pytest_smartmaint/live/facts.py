"""What the probes print, parsed once into typed records: the seam between the live stack and the checks.

A probe's JSON is read here and nowhere else, so a check never indexes raw container output.
"""

from __future__ import annotations

import enum
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar, cast

Json = Mapping[str, object]


def _str(value: object) -> str | None:
    return None if value is None else str(value)


def _strs(value: object) -> list[str]:
    return [str(v) for v in cast(list[object], value or [])]


@dataclass(frozen=True)
class ContainerMount:
    """One line of the container's /proc/self/mountinfo."""

    target: str
    source: str  # device and path within it: the same in every container that mounts the same directory
    read_only: bool
    fstype: str


@dataclass(frozen=True)
class HttpAnswer:
    """A request made from inside a container: a status, or the error that kept it from one."""

    status: int | None
    body: str = ""
    error: str = ""

    @classmethod
    def parse(cls, raw: object) -> HttpAnswer | None:
        if not isinstance(raw, Mapping):
            return None
        status = raw.get("status")
        return cls(
            int(status) if isinstance(status, int) else None, str(raw.get("body") or ""), str(raw.get("error") or "")
        )


@dataclass(frozen=True)
class ServiceFacts:
    """Who a service runs as, what it mounts and has installed, and how its tracking URI answers."""

    PROBE: ClassVar[str] = "facts"
    uid: int
    gid: int
    python: str
    tracking_uri: str | None
    mounts: tuple[ContainerMount, ...]
    packages: Mapping[str, str | None]
    api: HttpAnswer | None  # GET <tracking uri>/api/2.0/mlflow/experiments/search, when the URI is http(s)
    health: HttpAnswer | None

    @property
    def user(self) -> str:
        return f"{self.uid}:{self.gid}"

    @classmethod
    def parse(cls, raw: Json) -> ServiceFacts:
        mounts = tuple(
            ContainerMount(str(m["target"]), str(m["source"]), bool(m["ro"]), str(m.get("fstype", "")))
            for m in cast(list[Mapping[str, object]], raw.get("mounts") or [])
        )
        packages = {str(k): _str(v) for k, v in cast(Mapping[str, object], raw.get("packages") or {}).items()}
        return cls(
            int(cast(int, raw["uid"])),
            int(cast(int, raw["gid"])),
            str(raw.get("python", "")),
            _str(raw.get("tracking_uri")),
            mounts,
            packages,
            HttpAnswer.parse(raw.get("api")),
            HttpAnswer.parse(raw.get("health")),
        )


@dataclass(frozen=True)
class ServerProcess:
    argv: tuple[str, ...]
    env: Mapping[str, str]  # its MLFLOW_* variables
    cwd: str | None


@dataclass(frozen=True)
class ServerFacts:
    """The running `mlflow server` processes of the server's container, and the tables of its backend store."""

    PROBE: ClassVar[str] = "server_facts"
    processes: tuple[ServerProcess, ...]
    db_exists: bool
    tables: tuple[str, ...]
    db_error: str | None
    revision: str | None = None  # alembic_version of a database backend

    @classmethod
    def parse(cls, raw: Json) -> ServerFacts:
        processes = tuple(
            ServerProcess(
                tuple(_strs(p.get("argv"))),
                {str(k): str(v) for k, v in cast(Mapping[str, object], p.get("env") or {}).items()},
                _str(p.get("cwd")),
            )
            for p in cast(list[Mapping[str, object]], raw.get("processes") or [])
        )
        return cls(
            processes,
            bool(raw.get("db_exists")),
            tuple(_strs(raw.get("tables"))),
            _str(raw.get("db_error")),
            _str(raw.get("revision")),
        )


@dataclass(frozen=True)
class MigrationHistory:
    """The MLflow release installed in a container, and the alembic revisions its migrations know, head first."""

    PROBE: ClassVar[str] = "schema_history"
    mlflow: str | None
    revisions: tuple[str, ...]
    error: str | None = None  # why the revisions could not be read (no mlflow, no alembic)

    @property
    def head(self) -> str | None:
        return self.revisions[0] if self.revisions else None

    def behind(self, revision: str) -> int | None:
        """How many migrations a database at ``revision`` lacks; None when these migrations do not know it."""
        return self.revisions.index(revision) if revision in self.revisions else None

    @classmethod
    def parse(cls, raw: Json) -> MigrationHistory:
        return cls(_str(raw.get("mlflow")), tuple(_strs(raw.get("revisions"))), _str(raw.get("error")))


@dataclass(frozen=True)
class WriteBurst:
    """Concurrent writes to the tracking server: how many, how fast, and every error by kind."""

    PROBE: ClassVar[str] = "write_burst"
    writers: int
    runs: int  # per writer; each run is three writes (create, log-batch, update)
    requests: int
    ok: int
    seconds: float
    errors: Mapping[str, int]  # "database is locked", "HTTP 500", "TimeoutError"... -> count
    samples: Mapping[str, str]  # one answer per kind of error
    setup_error: str | None = None  # its experiment could not be created: no writer ran

    @property
    def failed(self) -> int:
        return sum(self.errors.values())

    @property
    def locked(self) -> int:
        return self.errors.get("database is locked", 0)

    @property
    def writes_per_s(self) -> float:
        return round(self.ok / self.seconds, 1) if self.seconds else 0.0

    @classmethod
    def parse(cls, raw: Json) -> WriteBurst:
        errors = cast(Mapping[str, object], raw.get("errors") or {})
        samples = cast(Mapping[str, object], raw.get("samples") or {})
        return cls(
            int(cast(int, raw["writers"])),
            int(cast(int, raw["runs"])),
            int(cast(int, raw["requests"])),
            int(cast(int, raw["ok"])),
            float(cast(float, raw["seconds"])),
            {str(k): int(cast(int, v)) for k, v in errors.items()},
            {str(k): str(v) for k, v in samples.items()},
            _str(raw.get("setup_error")),
        )


@dataclass(frozen=True)
class SmokeModel:
    """The model the trainer registered: its version, where its artifacts are, and what it predicted."""

    PROBE: ClassVar[str] = "register_model"
    version: str
    artifact_location: str
    run_id: str
    model_id: str  # "" on MLflow 2.x, which has no logged-model entity
    expected: tuple[float, ...]
    features: tuple[tuple[float, ...], ...]

    @classmethod
    def parse(cls, raw: Json) -> SmokeModel:
        features = tuple(tuple(float(x) for x in cast(list[float], row)) for row in cast(list[object], raw["features"]))
        return cls(
            str(raw["version"]),
            str(raw.get("artifact_location") or ""),
            str(raw["run_id"]),
            str(raw.get("model_id") or ""),
            tuple(float(x) for x in cast(list[float], raw["expected"])),
            features,
        )

    def as_arg(self) -> dict[str, object]:
        """The probe argument that names this model (to load it, or to delete what logging it left)."""
        return {
            "version": self.version,
            "artifact_location": self.artifact_location,
            "run_id": self.run_id,
            "model_id": self.model_id,
            "features": [list(row) for row in self.features],
        }


class LoadLayer(enum.Enum):
    """Where loading models:/NAME/VERSION broke in a consumer, layer by layer."""

    OK = "ok"
    LIBRARY = "library"
    REGISTRY = "registry"
    VERSION_MISSING = "version-missing"
    ARTIFACT_PATH = "artifact-path"
    ARTIFACT_UNWRITABLE = "artifact-unwritable"
    ARTIFACT_STORE = "artifact-store"  # an S3 store: boto3 missing, or the endpoint, credentials or bucket wrong
    DESERIALIZATION = "deserialization"
    PREDICT = "predict"


@dataclass(frozen=True)
class ModelLoad:
    PROBE: ClassVar[str] = "load_model"

    layer: LoadLayer
    detail: str
    uid: int | None
    gid: int | None
    sklearn: str | None
    artifact_path: str | None
    requirements: tuple[str, ...]
    predictions: tuple[float, ...] | None

    @classmethod
    def parse(cls, raw: Json) -> ModelLoad:
        predictions = raw.get("predictions")
        uid, gid = raw.get("uid"), raw.get("gid")
        return cls(
            LoadLayer(str(raw["layer"])),
            str(raw.get("detail") or ""),
            uid if isinstance(uid, int) else None,
            gid if isinstance(gid, int) else None,
            _str(raw.get("sklearn")),
            _str(raw.get("artifact_path")),
            tuple(_strs(raw.get("requirements"))),
            tuple(float(x) for x in cast(list[float], predictions)) if predictions is not None else None,
        )


@dataclass(frozen=True)
class AudioRoundTrip:
    """The audio stack in one container: what imports, and where a write/read/resample of a WAV broke."""

    PROBE: ClassVar[str] = "audio_roundtrip"
    imports: Mapping[str, str | None]  # numpy, soundfile, librosa, resampy -> version, or None
    import_errors: Mapping[str, str]
    libsndfile: str | None
    failed_step: str | None  # write, read or resample
    error: str
    numba_cache_dir: str | None
    home: str | None

    @property
    def missing(self) -> list[str]:
        return [name for name, version in self.imports.items() if version is None]

    @classmethod
    def parse(cls, raw: Json) -> AudioRoundTrip:
        failure = cast(Mapping[str, object], raw.get("roundtrip_error") or {})
        return cls(
            {str(k): _str(v) for k, v in cast(Mapping[str, object], raw.get("imports") or {}).items()},
            {str(k): str(v) for k, v in cast(Mapping[str, object], raw.get("import_errors") or {}).items()},
            _str(raw.get("libsndfile")),
            _str(failure.get("step")),
            str(failure.get("error") or ""),
            _str(raw.get("numba_cache_dir")),
            _str(raw.get("home")),
        )


@dataclass(frozen=True)
class S3Access:
    """The S3 artifact store as one container reaches it: where that broke, and the keys under the smoke model."""

    PROBE: ClassVar[str] = "s3_access"
    layer: str  # ok, boto3-missing, endpoint-unset, unresolvable, refused, timeout, credentials-*, bucket-missing...
    detail: str
    endpoint: str | None  # the container's MLFLOW_S3_ENDPOINT_URL
    access_key: str | None  # its AWS_ACCESS_KEY_ID (an id, not a secret)
    keys: tuple[str, ...]

    @classmethod
    def parse(cls, raw: Json) -> S3Access:
        return cls(
            str(raw["layer"]),
            str(raw.get("detail") or ""),
            _str(raw.get("endpoint")),
            _str(raw.get("access_key")),
            tuple(_strs(raw.get("keys"))),
        )


@dataclass(frozen=True)
class ServingAnswer:
    """What an API's endpoint answered to a POST from another container of the stack."""

    PROBE: ClassVar[str] = "serving_request"
    status: int | None
    body: str
    error: str  # what kept the request from an answer: refused, unresolvable, timed out
    seconds: float

    @classmethod
    def parse(cls, raw: Json) -> ServingAnswer:
        status = raw.get("status")
        return cls(
            status if isinstance(status, int) else None,
            str(raw.get("body") or ""),
            str(raw.get("error") or ""),
            float(cast(float, raw.get("seconds") or 0.0)),
        )


@dataclass(frozen=True)
class ProcessSettings:
    """The MLflow and AWS settings of each readable process of a container, and of a ``docker exec`` in it."""

    PROBE: ClassVar[str] = "process_env"
    exec_settings: Mapping[str, str]
    processes: tuple[tuple[int, str, Mapping[str, str]], ...]  # (pid, command line, settings)

    @classmethod
    def parse(cls, raw: Json) -> ProcessSettings:
        processes = cast(list[Mapping[str, object]], raw["processes"])
        return cls(
            {str(k): str(v) for k, v in cast(Mapping[str, object], raw["exec_settings"]).items()},
            tuple(
                (
                    int(cast(int, p["pid"])),
                    str(p["command"]),
                    {str(k): str(v) for k, v in cast(Mapping[str, object], p["settings"]).items()},
                )
                for p in processes
            ),
        )

    def differing(self, ignored: Sequence[str] = ()) -> list[tuple[int, str, str, str | None, str | None]]:
        """(pid, command, setting, the process's value, the exec's value) wherever a process reads another
        value than ``docker exec`` sees; ``ignored``: settings the exec itself added."""
        found = []
        for pid, command, settings in self.processes:
            for name in sorted({*settings, *self.exec_settings} - set(ignored)):
                if settings.get(name) != self.exec_settings.get(name):
                    found.append((pid, command, name, settings.get(name), self.exec_settings.get(name)))
        return found


@dataclass(frozen=True)
class RegistryLoads:
    """The latest version of every registered model as one consumer loads it."""

    PROBE: ClassVar[str] = "load_registry"
    models: Mapping[str, str]  # models:/NAME/VERSION -> "ok" or the error loading it raised

    @classmethod
    def parse(cls, raw: Json) -> RegistryLoads:
        return cls({str(k): str(v) for k, v in cast(Mapping[str, object], raw.get("models") or {}).items()})


@dataclass(frozen=True)
class RegistryLookup:
    """Whether the registry holds one version of the smoke model, asked over plain HTTP."""

    PROBE: ClassVar[str] = "registry_lookup"
    answer: HttpAnswer

    @classmethod
    def parse(cls, raw: Json) -> RegistryLookup:
        return cls(HttpAnswer.parse(raw) or HttpAnswer(None, error="no answer"))


@dataclass(frozen=True)
class SmokeModelRemoved:
    """What deleting the smoke model (version, model, run, artifacts) left undone."""

    PROBE: ClassVar[str] = "remove_smoke_model"
    raw: Json

    @classmethod
    def parse(cls, raw: Json) -> SmokeModelRemoved:
        return cls(raw)


DOCKER_DNS = "127.0.0.11"  # the engine's embedded DNS server: in every container's network namespace


@dataclass(frozen=True)
class Listener:
    """A TCP socket in LISTEN state in a container's network namespace."""

    address: str
    port: int

    @property
    def loopback(self) -> bool:
        return self.address.startswith("127.") or self.address == "::1"


def _address(hex_address: str) -> str:
    """/proc/net/tcp's little-endian hex address (IPv4 or IPv6) as text."""
    import ipaddress

    raw = bytes.fromhex(hex_address)
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return str(ipaddress.ip_address(words))


def parse_listeners(proc_net_tcp: str) -> tuple[Listener, ...]:
    """The listening sockets of /proc/net/tcp and /proc/net/tcp6, less Docker's embedded DNS."""
    found: set[Listener] = set()
    for line in proc_net_tcp.splitlines():
        fields = line.split()
        if len(fields) < 4 or fields[3] != "0A" or ":" not in fields[1]:
            continue
        address, port = fields[1].rsplit(":", 1)
        try:
            listener = Listener(_address(address), int(port, 16))
        except ValueError:
            continue
        if listener.address != DOCKER_DNS:
            found.add(listener)
    return tuple(sorted(found, key=lambda listener: (listener.port, listener.address)))


@dataclass(frozen=True)
class PortReach:
    port: int
    outcome: str  # connected, refused, timeout or error
    error: str
    http: str | None  # the status line, where an HTTP request was made


@dataclass(frozen=True)
class Reach:
    """One service reaching another by name, from inside: the name's addresses, then each port."""

    PROBE: ClassVar[str] = "connect"
    host: str
    addresses: tuple[str, ...]
    resolve_error: str | None
    ports: tuple[PortReach, ...]

    @classmethod
    def parse(cls, raw: Json) -> Reach:
        ports = tuple(
            PortReach(int(port), str(r.get("outcome", "error")), str(r.get("error") or ""), _str(r.get("http")))
            for port, r in cast(Mapping[str, Mapping[str, object]], raw.get("ports") or {}).items()
        )
        return cls(str(raw["host"]), tuple(_strs(raw.get("addresses"))), _str(raw.get("resolve_error")), ports)


@dataclass(frozen=True)
class ImageConfig:
    """What `docker image inspect` says an image was built with."""

    id: str
    created: str
    env: Mapping[str, str]
    cmd: tuple[str, ...] | None
    entrypoint: tuple[str, ...] | None
    user: str
    workdir: str

    @classmethod
    def parse(cls, raw: Json) -> ImageConfig:
        config = cast(Mapping[str, object], raw.get("Config") or {})
        env = dict(str(e).split("=", 1) for e in cast(list[object], config.get("Env") or []) if "=" in str(e))
        cmd, entrypoint = config.get("Cmd"), config.get("Entrypoint")
        return cls(
            str(raw["Id"]),
            str(raw.get("Created", "")),
            env,
            tuple(_strs(cmd)) if cmd is not None else None,
            tuple(_strs(entrypoint)) if entrypoint is not None else None,
            str(config.get("User") or ""),
            str(config.get("WorkingDir") or ""),
        )


@dataclass(frozen=True)
class RunningImage:
    """The image a service's running container was created from, and what its reference names today."""

    container: str
    reference: str  # the image reference the container was created with (the compose `image:`)
    image: ImageConfig  # the image the container runs
    current_id: str | None  # the image the reference points to now; None if it no longer exists
    file_hashes: Mapping[str, str]  # path in the container -> sha256, for the files the Dockerfile copies


@dataclass(frozen=True)
class TestTooling:
    """pytest in a test service: its version (None: it does not import), `pytest --version`, each plugin."""

    PROBE: ClassVar[str] = "test_tooling"
    __test__ = False  # not a test class, whatever its name

    pytest_version: str | None
    pytest_error: str
    version_rc: int
    version_output: str
    plugins: Mapping[str, str]  # distribution -> "ok" or why it does not import

    @classmethod
    def parse(cls, raw: Json) -> TestTooling:
        rc = raw.get("version_rc")
        return cls(
            _str(raw.get("pytest")),
            str(raw.get("pytest_error") or ""),
            rc if isinstance(rc, int) else 0,
            str(raw.get("version_output") or ""),
            {str(k): str(v) for k, v in cast(Mapping[str, object], raw.get("plugins") or {}).items()},
        )


@dataclass(frozen=True)
class PathOwner:
    """Who owns a path in a container, and its mode: one line of ``stat -c '%u:%g %a'``."""

    owner: str  # uid:gid
    mode: str

    @staticmethod
    def command(paths: Sequence[str]) -> str:
        return "stat -c '%u:%g %a' " + " ".join(shlex.quote(p) for p in paths)

    @classmethod
    def parse_lines(cls, output: str) -> list[PathOwner]:
        owners = []
        for line in output.splitlines():
            owner, _, mode = line.strip().partition(" ")
            if re.fullmatch(r"\d+:\d+", owner):
                owners.append(cls(owner, mode))
        return owners


@dataclass(frozen=True)
class DirectoryAccess:
    """Whether the user a container runs as can write a directory: its ids, the directory's owner and mode."""

    uid: str
    gid: str
    owner: PathOwner | None  # None: the directory does not exist
    writable: bool

    @staticmethod
    def command(directory: str) -> str:
        quoted = shlex.quote(directory)
        return (
            f"id -u; id -g; {PathOwner.command([directory])} 2>/dev/null || echo missing; "
            f"if [ -w {quoted} ]; then echo writable; else echo read-only; fi"
        )

    @classmethod
    def parse(cls, output: str) -> DirectoryAccess | None:
        """None when the output is not the command's (the shell failed, or printed something else)."""
        lines = [line.strip() for line in output.strip().splitlines()]
        if len(lines) != 4 or lines[-1] not in ("writable", "read-only"):
            return None
        owners = PathOwner.parse_lines(lines[2])
        if not owners and lines[2] != "missing":
            return None
        return cls(lines[0], lines[1], owners[0] if owners else None, lines[-1] == "writable")


@dataclass(frozen=True)
class InspectedState:
    """A container's ``State`` as `docker inspect` reports it: status, exit, restarts, and its last healthcheck."""

    status: str
    exit_code: str
    restarts: int
    finished_at: str
    last_probe: str  # the last line of the last healthcheck's output; "(none yet)"

    @classmethod
    def parse(cls, raw: Json) -> InspectedState:
        health = cast(Mapping[str, object], raw.get("Health") or {})
        probes = cast(list[Mapping[str, object]], health.get("Log") or [])
        last = (str(probes[-1].get("Output") or "").strip().splitlines() or [""])[-1] if probes else "(none yet)"
        return cls(
            str(raw.get("Status") or "?"),
            str(raw.get("ExitCode", "?")),
            int(cast(int, raw.get("RestartCount") or 0)),
            str(raw.get("FinishedAt") or ""),
            last,
        )

    @property
    def exited_before(self) -> bool:
        """It has exited at least once (a running container with an exit time was restarted)."""
        return bool(self.finished_at) and not self.finished_at.startswith("0001-")

    @property
    def looping(self) -> bool:
        """A crash loop, in any phase: the engine's restart count is no guide (it stays 0 under `restart: always`)."""
        return self.status == "restarting" or self.restarts > 0 or (self.status == "running" and self.exited_before)
