"""An S3 artifact store as the files describe it: which services must reach it, and what each one has to.

MLflow reaches S3 through boto3 in whichever process reads or writes the artifacts: every client when the
artifact root is ``s3://`` (clients write there themselves), the server alone when it proxies them
(``--serve-artifacts --artifacts-destination s3://``). boto3 takes its endpoint from ``MLFLOW_S3_ENDPOINT_URL``
(else AWS), and its credentials from the environment, a shared credentials file or a profile.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from .compose import Service
from .stack_model import StackModel

ENDPOINT = "MLFLOW_S3_ENDPOINT_URL"
# where MLflow sets no endpoint, boto3 (1.28+) reads these, the service-specific one first
BOTO_ENDPOINTS = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
# declared, each of these brings boto3 (mlflow's extras, SageMaker's SDK)
BRINGS_BOTO3 = ("boto3", "sagemaker", "awswrangler")
KEY_PAIR = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
# set, any of these tells boto3 where else to find credentials (a file, a profile, a role, a container agent)
OTHER_CREDENTIALS = (
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_PROFILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
)
LOOPBACK = frozenset({"localhost", "127.0.0.1", "0.0.0.0", "::1", "[::1]"})


@dataclass(frozen=True)
class S3Store:
    """The bucket and prefix MLflow keeps artifacts in, and the services that talk to it themselves."""

    uri: str  # s3://bucket/prefix
    source: str  # the server's setting that names it, in the user's terms
    proxied: bool  # the server serves the artifacts: only it reaches the store
    accessors: tuple[str, ...]  # the services whose boto3 reads or writes the bucket

    @property
    def bucket(self) -> str:
        return urlsplit(self.uri).netloc

    @property
    def prefix(self) -> str:
        return urlsplit(self.uri).path.lstrip("/")


def s3_store(model: StackModel) -> S3Store | None:
    """The stack's S3 artifact store, or None when its artifacts are kept elsewhere."""
    server = model.server
    if server is None:
        return None
    if server.artifact_mode == "proxied":
        destination = server.artifacts_destination
        if server.serve_artifacts and (destination.value or "").startswith("s3://"):
            return S3Store(str(destination.value), destination.source, True, (server.service,))
        return None
    root = server.artifact_root
    if not root.startswith("s3://"):
        return None
    roles = model.roles
    users = [s for s in dict.fromkeys((roles.trainer, *roles.consumers)) if s] or list(roles.clients)
    return S3Store(root, server.default_artifact_root.source, False, tuple(users))


def environment(model: StackModel, service: str) -> Mapping[str, str]:
    """The variables the service's process starts with, as far as the files show: the image's ENV, then compose's."""
    image = model.images.get(service)
    merged = dict(image.env) if image else {}
    merged.update({k: v for k, v in model.service(service).environment.items() if v is not None})
    return merged


def unresolved(model: StackModel, service: str) -> tuple[str, ...]:
    """The S3 variables the service passes through from the shell (``- AWS_ACCESS_KEY_ID``, ``${VAR}`` unset here):
    their values are known only where the stack runs."""
    names = (ENDPOINT, *BOTO_ENDPOINTS, *KEY_PAIR, *OTHER_CREDENTIALS)
    environment = model.service(service).environment
    return tuple(n for n in names if n in environment and not environment[n])


@dataclass(frozen=True)
class Endpoint:
    url: str
    host: str
    port: int | None

    @classmethod
    def parse(cls, url: str) -> Endpoint:
        parts = urlsplit(url if "://" in url else f"http://{url}")
        try:
            port = parts.port
        except ValueError:  # not a number: boto3 refuses it too, and says so
            port = None
        return cls(url, (parts.hostname or "").lower(), port)


def endpoint(model: StackModel, service: str) -> Endpoint | None:
    """The endpoint the service's boto3 uses: MLflow's variable, else boto3's own; None: AWS."""
    env = environment(model, service)
    value = next((env[k] for k in (ENDPOINT, *BOTO_ENDPOINTS) if env.get(k)), None)
    return Endpoint.parse(value) if value else None


def serving_service(model: StackModel, host: str) -> Service | None:
    """The compose service a host name reaches on the stack's networks (its name, an alias, its container name)."""
    return next((s for s in model.project.services.values() if host in s.aliases), None)


def credentials(model: StackModel, service: str) -> str | None:
    """Where boto3 finds the service's credentials, said in the user's terms; None when the files show none."""
    env = environment(model, service)
    if all(env.get(k) for k in KEY_PAIR):
        return "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    named = next((k for k in OTHER_CREDENTIALS if env.get(k)), None)
    if named:
        return named
    home = env.get("HOME") or "/root"
    aws_dir = posixpath.join(home, ".aws")
    mount = model.service(service).mount_covering(posixpath.join(aws_dir, "credentials"))
    if mount is not None and mount.target != "/":
        return f"the credentials file mounted at {mount.target}"
    return None


def named_endpoint(model: StackModel, besides: str | None = None) -> str | None:
    """The S3 endpoint the server or a service that reaches the store names (other than ``besides``); None."""
    store = s3_store(model)
    if store is None or model.server is None:
        return None
    named = [
        found
        for service in dict.fromkeys((model.server.service, *store.accessors))
        if service != besides and (found := endpoint(model, service)) is not None
    ]
    # a name the compose network resolves first: a loopback one works only where it is written
    named.sort(key=lambda e: serving_service(model, e.host) is None)
    return named[0].url if named else None
