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
from collections.abc import Mapping, Sequence
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
}
SHELL_SEPARATORS = {"&&", "||", ";", "|", "&"}
_BARE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PARAMETER = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(:?[-=?+])?(.*)", re.DOTALL)


@dataclass(frozen=True)
class Setting:
    value: str | None
    source: str  # where the value came from, in the user's terms

    def __str__(self) -> str:
        return f"{self.value} ({self.source})"


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
    workdir: str
    mlflow_version: Version | None  # pinned with ==, or the tag of a prebuilt MLflow image
    mlflow_spec: str | None = None  # the declared specifier; "": unpinned; None: the files do not say

    @property
    def artifact_root(self) -> str:
        if self.default_artifact_root.value:
            return self.default_artifact_root.value
        return "mlflow-artifacts:/" if self.serve_artifacts else "./mlruns"

    @property
    def artifact_mode(self) -> str:
        """``local`` (clients write the path themselves), ``proxied`` or ``remote``."""
        root = self.artifact_root
        if root.startswith("mlflow-artifacts:"):
            return "proxied"
        scheme = urlparse(root).scheme
        return "local" if scheme in ("", "file") else "remote"

    @property
    def local_artifact_path(self) -> str | None:
        """The artifact root as a container path, when clients write it themselves."""
        if self.artifact_mode != "local":
            return None
        root = self.artifact_root
        path = urlparse(root).path if root.startswith("file:") else root
        return posixpath.normpath(posixpath.join(self.workdir, path))

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
        return posixpath.normpath(posixpath.join(self.workdir, path.lstrip("/")))

    @property
    def enforces_allowed_hosts(self) -> bool | None:
        """Whether the MLflow a build installs checks Host headers (3.5+); None: the files do not tell."""
        if self.mlflow_version is not None:
            return self.mlflow_version >= ALLOWED_HOSTS_SINCE
        if self.mlflow_spec is None:
            return None
        if not self.mlflow_spec:
            return True  # unpinned: pip installs the newest release
        try:
            allowed = SpecifierSet(self.mlflow_spec)
        except InvalidSpecifier:
            return None
        return any(allowed.contains(v) for v in RELEASES_SINCE_ALLOWED_HOSTS)  # pip takes the newest allowed

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


def server_words(argv: Sequence[str], env: Mapping[str, str]) -> list[str] | None:
    """The words after ``mlflow server`` in argv, unwrapping ``sh -c`` scripts."""
    words = list(argv)
    for i, word in enumerate(words[:-1]):
        if posixpath.basename(word) in ("sh", "bash", "ash", "dash") and "-c" in words[i + 1 : i + 3]:
            script = words[words.index("-c", i + 1) + 1] if words.index("-c", i + 1) + 1 < len(words) else ""
            try:
                words = shlex.split(expand(script, env))
            except ValueError:
                words = expand(script, env).split()
            break
    for i, word in enumerate(words[:-1]):
        if posixpath.basename(word) == "mlflow" and words[i + 1] == "server":
            tail = words[i + 2 :]
            end = next((j for j, w in enumerate(tail) if w in SHELL_SEPARATORS), len(tail))
            return tail[:end]
    return None


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
    workdir: str,
    version: Version | None,
    spec: str | None = None,
) -> ServerSettings:
    env = {**image_env, **{k: v for k, v in compose_env.items() if v is not None}}
    flags = parse_flags(server_words(argv, env) or [])

    def setting(flag: str, default: str | None) -> Setting:
        if flag in flags:
            return Setting(flags[flag], f"{flag} in {argv_source}")
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
    return ServerSettings(
        service=service,
        argv=tuple(argv),
        backend_store_uri=setting("--backend-store-uri", DEFAULT_BACKEND_STORE_URI),
        default_artifact_root=setting("--default-artifact-root", None),
        artifacts_destination=setting("--artifacts-destination", "./mlartifacts"),
        serve_artifacts=serve,
        allowed_hosts=setting("--allowed-hosts", None),
        port=int(port) if port.isdigit() else DEFAULT_PORT,
        workdir=workdir,
        mlflow_version=version,
        mlflow_spec=spec,
    )


def image_tag_version(image: str | None) -> Version | None:
    """The MLflow version of a prebuilt MLflow image, from its tag (``ghcr.io/mlflow/mlflow:v3.1.0``)."""
    if not image or "mlflow" not in image.rsplit("/", 1)[-1].split(":")[0]:
        return None
    tag = image.rsplit(":", 1)[-1] if ":" in image.rsplit("/", 1)[-1] else ""
    try:
        return Version(tag.lstrip("v"))
    except InvalidVersion:
        return None
