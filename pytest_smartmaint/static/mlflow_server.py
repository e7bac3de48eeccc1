"""The MLflow server's effective settings, resolved as the running server resolves them.

A flag on the server's command line (compose ``command``/``entrypoint``, else the
Dockerfile's CMD/ENTRYPOINT) wins over the environment variable (compose
``environment``, else Dockerfile ENV), which wins over MLflow's default. Commands
wrapped in ``sh -c "..."`` are expanded with the service's environment first, so
``${MLFLOW_DB:-sqlite:////db/mlflow.db}`` resolves as the shell would.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlparse

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

# MLflow's own defaults (3.7+), see mlflow.server.security_utils.get_default_allowed_hosts.
DEFAULT_BACKEND_STORE_URI = "sqlite:///mlflow.db"
DEFAULT_PORT = 5000
DEFAULT_ALLOWED_HOSTS = (
    "localhost",
    "127.0.0.1",
    "[::1]",
    "localhost:*",
    "127.0.0.1:*",
    "[[]::1]:*",
    "10.*",
    "192.168.*",
    *(f"172.{n}.*" for n in range(16, 32)),
    "fc00:*",
    "fd*",
)
ALLOWED_HOSTS_SINCE = Version("3.5")
RELEASES_SINCE_ALLOWED_HOSTS = ("3.5.0", "3.17.2", "3.99", "4.0.0", "99.0")

FLAG_ALIASES = {"-h": "--host", "-p": "--port", "-w": "--workers"}
FLAG_ENV = {
    "--backend-store-uri": "MLFLOW_BACKEND_STORE_URI",
    "--default-artifact-root": "MLFLOW_DEFAULT_ARTIFACT_ROOT",
    "--artifacts-destination": "MLFLOW_ARTIFACTS_DESTINATION",
    "--allowed-hosts": "MLFLOW_SERVER_ALLOWED_HOSTS",
    "--port": "MLFLOW_PORT",
    "--host": "MLFLOW_HOST",
    "--workers": "MLFLOW_WORKERS",
}
DEFAULT_WORKERS = "4"  # mlflow server: `workers or 4` (uvicorn and gunicorn alike)
JOB_EXECUTION_SINCE = Version("3.5")  # MLFLOW_SERVER_ENABLE_JOB_EXECUTION: off by default in 3.5-3.8
JOB_EXECUTION_DEFAULT_ON_SINCE = Version("3.9")  # on by default from 3.9 (read from each release's wheel)
SHELL_SEPARATORS = {"&&", "||", ";", "|", "&"}
_BARE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PARAMETER = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(:?[-=?+])?(.*)", re.DOTALL)


_CREDENTIALS = re.compile(r"(\b[A-Za-z][\w+.-]*://[^:/@\s]*):[^@/\s]+@")


@dataclass(frozen=True)
class Setting:
    value: str | None
    source: str  # where the value came from, in the user's terms

    @property
    def shown(self) -> str | None:
        """The value as a message or the terminal may show it: a password in a URI masked."""
        return _CREDENTIALS.sub(r"\1:***@", self.value) if self.value else self.value

    def __str__(self) -> str:
        return f"{self.shown} ({self.source})"


@dataclass(frozen=True)
class ServerSettings:
    service: str
    argv: tuple[str, ...]
    backend_store_uri: Setting
    default_artifact_root: Setting
    artifacts_destination: Setting
    serve_artifacts: bool
    allowed_hosts: Setting  # value None: MLflow's defaults
    port: int
    workdir: str | None  # None: the image's working directory is not in the files (a prebuilt base)
    mlflow_version: Version | None  # pinned with ==, or the tag of a prebuilt MLflow image
    mlflow_spec: str | None = None  # the declared specifier; "": unpinned; None: the files do not say
    security_middleware_off: str | None = None  # where the host check is turned off, if it is
    workers: Setting = Setting(DEFAULT_WORKERS, "MLflow default")
    # "true"/"false" where the files or the release decide; value None: the release has no job runner, or is unknown
    job_execution: Setting = Setting(None, "MLflow default")

    @property
    def worker_count(self) -> int | None:
        value = self.workers.value or DEFAULT_WORKERS
        return int(value) if value.isdigit() else None

    @property
    def artifact_root(self) -> str:
        if self.default_artifact_root.value:
            return self.default_artifact_root.value
        return "mlflow-artifacts:/" if self.serve_artifacts else "./mlruns"

    @property
    def artifact_mode(self) -> str:
        """``local`` (clients write the path themselves), ``proxied`` or ``remote``."""
        root = self.artifact_root
        if root.startswith("mlflow-artifacts:") or "/api/2.0/mlflow-artifacts/" in root:
            return "proxied"  # through this server, or through an --artifacts-only server
        scheme = urlparse(root).scheme
        return "local" if scheme in ("", "file") else "remote"

    @property
    def local_artifact_path(self) -> str | None:
        """The artifact root as a container path, when clients write it themselves."""
        if self.artifact_mode != "local":
            return None
        root = self.artifact_root
        path = urlparse(root).path if root.startswith("file:") else root
        if not path.startswith("/") and self.workdir is None:
            return None
        return posixpath.normpath(posixpath.join(self.workdir or "/", path))

    @property
    def proxied_destination_path(self) -> str | None:
        """Where this server keeps the artifacts it serves (--serve-artifacts, --artifacts-destination), as a
        container path; None when it serves none, or keeps them elsewhere (s3://...), or the path is relative to a
        working directory the files do not show."""
        if not self.serve_artifacts or not self.artifact_root.startswith("mlflow-artifacts:"):
            return None
        destination = self.artifacts_destination.value or "./mlartifacts"
        scheme = urlparse(destination).scheme
        if scheme not in ("", "file"):
            return None
        path = urlparse(destination).path if destination.startswith("file:") else destination
        if not path.startswith("/") and self.workdir is None:
            return None
        return posixpath.normpath(posixpath.join(self.workdir or "/", path))

    @property
    def sqlite_path(self) -> str | None:
        """The db file inside the server container (relative URIs resolve in its workdir)."""
        uri = self.backend_store_uri.value or ""
        if not uri.startswith("sqlite:"):
            return None
        path = uri.split("sqlite://", 1)[1] if "sqlite://" in uri else uri.split(":", 1)[1]
        path = path.split("?", 1)[0]
        if path.startswith("//"):  # sqlite:////abs -> //abs after the scheme
            return posixpath.normpath(path[1:])
        if self.workdir is None:
            return None
        return posixpath.normpath(posixpath.join(self.workdir, path.lstrip("/")))

    @property
    def store_location_unknown(self) -> str | None:
        """Why the files cannot say where the backend store lies, or None when they can."""
        uri = self.backend_store_uri.value
        if uri is None:
            return (
                "the server sets no backend store, and MLflow's default depends on its version, which the files do "
                "not give (./mlruns before 3.7, sqlite:///mlflow.db from 3.7)"
            )
        relative = (uri.startswith("sqlite:") and not uri.startswith("sqlite:////")) or "://" not in uri
        if relative and self.workdir is None and not uri.startswith("/"):
            return (
                f"the backend store {uri} is relative to the server's working directory, which its image "
                "(not built from a known base here) does not show"
            )
        return None

    @property
    def enforces_allowed_hosts(self) -> bool | None:
        """Whether the MLflow a build installs checks Host headers (3.5+); None: the files do not tell."""
        if self.security_middleware_off:
            return False
        running = newest_allowed(self.mlflow_version, self.mlflow_spec)
        if running is None:  # the files name no version, or a specifier we cannot read / that admits no release
            return None if self.mlflow_spec is None or not _valid_spec(self.mlflow_spec) else False
        return running >= ALLOWED_HOSTS_SINCE

    @property
    def mlflow_described(self) -> str:
        if self.mlflow_version is not None:
            return f"MLflow {self.mlflow_version}"
        if self.mlflow_spec == "":
            return "MLflow, unpinned: a build installs the newest release, 3.5 or later"
        return f"MLflow {self.mlflow_spec}" if self.mlflow_spec else "MLflow of unknown version"

    def admits_host(self, host_header: str) -> bool:
        """MLflow's rule (mlflow.server.security_utils.is_allowed_host_header)."""
        allowed = (
            [h.strip() for h in self.allowed_hosts.value.split(",") if h.strip()]
            if self.allowed_hosts.value
            else list(DEFAULT_ALLOWED_HOSTS)
        )
        if "*" in allowed:
            return True
        return any(fnmatch.fnmatch(host_header, a) if "*" in a else host_header == a for a in allowed)


def expand(text: str, env: Mapping[str, str]) -> str:
    """Expand ``$VAR``, ``${VAR}``, ``${VAR:-word}``, ``${VAR-word}`` and ``${VAR:+word}`` as sh does.

    Words may nest (``${A:-${B:-x}}``), so braces are matched by depth rather than a regex.
    """
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] != "$" or i + 1 == len(text):
            out.append(text[i])
            i += 1
        elif text[i + 1] == "{":
            depth, j = 1, i + 2
            while j < len(text) and depth:
                depth += {"{": 1, "}": -1}.get(text[j], 0)
                j += 1
            out.append(_parameter(text[i + 2 : j - 1], env))
            i = j
        elif bare := _BARE.match(text, i + 1):
            out.append(env.get(bare.group(0)) or "")
            i = bare.end()
        else:
            out.append("$")
            i += 1
    return "".join(out)


def _parameter(body: str, env: Mapping[str, str]) -> str:
    match = _PARAMETER.match(body)
    if match is None:
        return ""
    name, op, word = match.group(1), match.group(2), match.group(3)
    value = env.get(name)
    if op in (":-", ":="):
        return value if value else expand(word, env)
    if op in ("-", "="):
        return value if value is not None else expand(word, env)
    if op == ":+":
        return expand(word, env) if value else ""
    if op == "+":
        return expand(word, env) if value is not None else ""
    return value or ""


ScriptReader = Callable[[str], "str | None"]  # a path in the container -> the script's text, if the files show it
SHELLS = ("sh", "bash", "ash", "dash", "zsh")


@dataclass(frozen=True)
class ServerCommand:
    """What a service's argv runs, as far as `mlflow server`/`mlflow ui` goes."""

    words: list[str] | None  # the words after `mlflow server` (or `mlflow ui`); None: it runs no server
    via: str = ""  # "" or the script that runs it ("run_mlflow.sh")
    unreadable: str | None = None  # a script the argv runs that the files do not show

    @property
    def artifacts_only(self) -> bool:
        return self.words is not None and "--artifacts-only" in self.words


def _split(text: str) -> list[str]:
    try:
        return shlex.split(text, comments=True)
    except ValueError:
        return text.split()


def _mlflow_tail(words: Sequence[str]) -> list[str] | None:
    for i, word in enumerate(words[:-1]):
        if posixpath.basename(word) == "mlflow" and words[i + 1] in ("server", "ui"):
            tail = list(words[i + 2 :])
            end = next((j for j, w in enumerate(tail) if w in SHELL_SEPARATORS), len(tail))
            return tail[:end]
    return None


def _is_c_flag(word: str) -> bool:
    """``-c``, and the combined forms shells take: ``-lc``, ``-ec``, ``-euxc``."""
    return word.startswith("-") and not word.startswith("--") and "c" in word


def _unwrap_sh_c(words: list[str], env: Mapping[str, str]) -> list[str]:
    for i, word in enumerate(words[:-1]):
        if posixpath.basename(word) in SHELLS:
            flag = next((j for j in range(i + 1, min(i + 3, len(words))) if _is_c_flag(words[j])), None)
            if flag is not None:
                return _split(expand(words[flag + 1], env)) if flag + 1 < len(words) else []
    return words


def _script_of(words: list[str]) -> tuple[str, list[str]] | None:
    """``./start.sh a b``, ``bash run.sh a``, ``/entrypoint.sh server ...``: the script and its arguments."""
    if not words:
        return None
    first = words[0]
    if posixpath.basename(first) in SHELLS:
        rest = [w for w in words[1:] if not w.startswith("-")]
        return (rest[0], words[words.index(rest[0]) + 1 :]) if rest else None
    if first.endswith((".sh", ".bash")) or (("/" in first) and posixpath.basename(first) not in ("mlflow", "python")):
        return first, words[1:]
    return None


def server_command(argv: Sequence[str], env: Mapping[str, str], read: ScriptReader | None = None) -> ServerCommand:
    """The server a service's argv runs: directly, through ``sh -c``, or through a script it runs
    (read from the build context or a bind mount by ``read``), with the script's ``"$@"``
    replaced by the arguments it is given (an ENTRYPOINT wrapper ending in ``exec mlflow "$@"``)."""
    words = _unwrap_sh_c(list(argv), env)
    tail = _mlflow_tail(words)
    if tail is not None:
        return ServerCommand(tail)
    script = _script_of(words)
    if script is None:
        return ServerCommand(None)
    path, args = script
    text = read(path) if read is not None else None
    if text is None:  # only what is surely a script is worth naming (not /opt/venv/bin/python3)
        return ServerCommand(None, unreadable=path if path.endswith((".sh", ".bash")) else None)
    logical = re.sub(r"\\\n", " ", text)
    for line in logical.splitlines():
        line = line.replace('"$@"', shlex.join(args)).replace("$@", shlex.join(args)).replace('"$*"', shlex.join(args))
        tail = _mlflow_tail(_split(expand(line, env)))
        if tail is not None:
            return ServerCommand(tail, via=posixpath.basename(path))
    return ServerCommand(None)


def parse_flags(words: Sequence[str]) -> dict[str, str]:
    flags: dict[str, str] = {}
    i = 0
    while i < len(words):
        word = words[i]
        if word.startswith("-"):
            name, eq, value = word.partition("=")
            name = FLAG_ALIASES.get(name, name)
            if eq:
                flags[name] = value
            elif i + 1 < len(words) and not words[i + 1].startswith("-"):
                flags[name] = words[i + 1]
                i += 1
            else:
                flags[name] = ""
        i += 1
    return flags


def mlflow_version(requirement_specifier: str | None) -> Version | None:
    if not requirement_specifier or not requirement_specifier.startswith("==") or "," in requirement_specifier:
        return None
    try:
        return Version(requirement_specifier[2:].strip())
    except InvalidVersion:
        return None


def resolve(
    service: str,
    argv: Sequence[str],
    argv_source: str,
    compose_env: Mapping[str, str | None],
    image_env: Mapping[str, str],
    workdir: str | None,
    version: Version | None,
    spec: str | None = None,
    read: ScriptReader | None = None,
) -> ServerSettings:
    env = {**image_env, **{k: v for k, v in compose_env.items() if v is not None}}
    run = server_command(argv, env, read)
    flags = parse_flags(run.words or [])
    flag_source = f"{run.via} (run by the {argv_source})" if run.via else argv_source

    def setting(flag: str, default: str | None) -> Setting:
        if flag in flags:
            return Setting(flags[flag], f"{flag} in {flag_source}")
        var = FLAG_ENV[flag]
        if compose_env.get(var):
            return Setting(compose_env[var], f"{var} in compose environment")
        if image_env.get(var):
            return Setting(image_env[var], f"{var} in Dockerfile ENV")
        return Setting(default, "MLflow default")

    serve = flags.get("--no-serve-artifacts") is None
    if "--serve-artifacts" not in flags and "--no-serve-artifacts" not in flags:
        serve = env.get("MLFLOW_SERVE_ARTIFACTS", "true").lower() not in ("false", "0", "no")
    port = setting("--port", str(DEFAULT_PORT)).value or str(DEFAULT_PORT)
    # MLflow's security middleware (the Host check) is off with this flag or variable; under gunicorn or
    # waitress it still runs (and --allowed-hosts with --gunicorn-opts is a startup error)
    middleware_off = None
    if "--disable-security-middleware" in flags:
        middleware_off = f"--disable-security-middleware in {flag_source}"
    elif env.get("MLFLOW_SERVER_DISABLE_SECURITY_MIDDLEWARE", "").lower() in ("true", "1", "yes"):
        middleware_off = "MLFLOW_SERVER_DISABLE_SECURITY_MIDDLEWARE"
    return ServerSettings(
        service=service,
        argv=tuple(argv),
        backend_store_uri=setting("--backend-store-uri", default_backend_store(version, spec)),
        default_artifact_root=setting("--default-artifact-root", None),
        artifacts_destination=setting("--artifacts-destination", "./mlartifacts"),
        serve_artifacts=serve,
        allowed_hosts=setting("--allowed-hosts", None),
        port=int(port) if port.isdigit() else DEFAULT_PORT,
        workdir=workdir,
        mlflow_version=version,
        mlflow_spec=spec,
        security_middleware_off=middleware_off,
        workers=setting("--workers", DEFAULT_WORKERS),
        job_execution=_job_execution(compose_env, image_env, version, spec),
    )


def _job_execution(
    compose_env: Mapping[str, str | None], image_env: Mapping[str, str], version: Version | None, spec: str | None
) -> Setting:
    """Whether the server starts MLflow's job runner (Huey consumers): the variable, else the release's default."""
    variable = "MLFLOW_SERVER_ENABLE_JOB_EXECUTION"
    for env, where in ((compose_env, "compose environment"), (image_env, "Dockerfile ENV")):
        value = env.get(variable)
        if value:
            on = value.strip().lower() in ("true", "1", "yes")
            return Setting("true" if on else "false", f"{variable} in {where}")
    running = newest_allowed(version, spec)
    if running is None or running < JOB_EXECUTION_SINCE:
        return Setting(None, "MLflow default")  # unknown, or no job runner in that release
    release = f"MLflow {version}" if version is not None else "the newest MLflow the pins admit"
    return Setting("true" if running >= JOB_EXECUTION_DEFAULT_ON_SINCE else "false", f"the default of {release}")


def image_tag_version(image: str | None) -> Version | None:
    """The MLflow version of an MLflow image, from its tag: ``ghcr.io/mlflow/mlflow:v3.1.0``,
    ``ubuntu/mlflow:2.1.1_1.0-22.04`` (the leading version of the tag)."""
    if not image or "mlflow" not in image.rsplit("/", 1)[-1].split(":")[0]:
        return None
    tag = image.rsplit(":", 1)[-1] if ":" in image.rsplit("/", 1)[-1] else ""
    leading = re.match(r"v?(\d+(?:\.\d+){1,2})(?![\d.])", tag)
    try:
        return Version(leading.group(1)) if leading else None
    except InvalidVersion:
        return None


SQLITE_DEFAULT_SINCE = Version("3.7")  # before: the file store ./mlruns
FILE_STORE_DEFAULT = "./mlruns"


def newest_allowed(version: Version | None, spec: str | None) -> Version | None:
    """The MLflow a build runs: the pinned one, else the newest release the specifier admits (pip's pick)."""
    if version is not None:
        return version
    if spec is None:
        return None
    if not spec:
        return Version(RELEASES_SINCE_ALLOWED_HOSTS[-1])
    try:
        allowed = SpecifierSet(spec)
    except InvalidSpecifier:
        return None
    candidates = [Version(v) for v in (*KNOWN_RELEASES, *RELEASES_SINCE_ALLOWED_HOSTS) if allowed.contains(v)]
    return max(candidates, default=None)


def _valid_spec(spec: str) -> bool:
    try:
        SpecifierSet(spec)
    except InvalidSpecifier:
        return False
    return True


KNOWN_RELEASES = ("1.30.1", "2.0.1", "2.9.2", "2.22.5", "3.0.1", "3.3.2", "3.6.0", "3.7.0")


def default_backend_store(version: Version | None, spec: str | None) -> str | None:
    """MLflow's default backend store for the version a build runs; None: the version is unknown."""
    running = newest_allowed(version, spec)
    if running is None:
        return None
    return DEFAULT_BACKEND_STORE_URI if running >= SQLITE_DEFAULT_SINCE else FILE_STORE_DEFAULT
