"""artifact-store: every service that reads or writes an S3 artifact store reaches it, as its own MLflow would.

Where the artifact root is ``s3://``, each client's boto3 reads and writes the bucket itself: each needs boto3,
the store's endpoint (``MLFLOW_S3_ENDPOINT_URL``, by a name the compose network resolves) and credentials the
store accepts. Where the server proxies them (``--serve-artifacts --artifacts-destination s3://``), only the
server does. The static half reads that from the files; the live half lists the smoke model's artifacts in the
bucket from each of those containers, and names the layer that broke: boto3, the endpoint, the credentials, the
bucket, a permission. model-load then points here for a consumer that cannot read them.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import pytest

from ..static.database import unread_installs
from ..static.s3_store import (
    BOTO_ENDPOINTS,
    BRINGS_BOTO3,
    ENDPOINT,
    KEY_PAIR,
    LOOPBACK,
    OTHER_CREDENTIALS,
    Endpoint,
    S3Store,
    credentials,
    endpoint,
    named_endpoint,
    s3_store,
    serving_service,
    unresolved,
)
from ..static.stack_model import StackModel
from .base import Case, Check, LiveCase, StaticCase, fail, not_applicable, record_facts
from .messages import no_server

if TYPE_CHECKING:
    from ..live.stack import LiveStack

NAME = "artifact-store"


def _not_s3(model: StackModel) -> str:
    server = model.server
    assert server is not None
    where = server.proxied_destination_path or server.artifact_root
    return f"the artifacts are not in an S3 store ({where}): volume-paths checks a local store"


def static_cases(model: StackModel) -> list[StaticCase]:
    if model.server is None:
        return [not_applicable(NAME, "static", no_server(model))]
    store = s3_store(model)
    if store is None:
        return [not_applicable(NAME, "static", _not_s3(model))]
    return [Case(NAME, "static", s, functools.partial(_static, service=s)) for s in store.accessors]


def live_cases(model: StackModel) -> list[LiveCase]:
    if model.server is None:
        return [not_applicable(NAME, "live", no_server(model))]
    store = s3_store(model)
    if store is None:
        return [not_applicable(NAME, "live", _not_s3(model))]
    return [Case(NAME, "live", s, functools.partial(_live, service=s), (s,)) for s in store.accessors]


def _why(store: S3Store) -> str:
    return (
        f"it serves the artifacts and keeps them in {store.uri} ({store.source})"
        if store.proxied
        else f"the artifact root is {store.uri} ({store.source}): clients read and write it themselves"
    )


def _static(model: StackModel, service: str) -> None:
    store = s3_store(model)
    assert store is not None
    problems: list[str] = []
    unknown: list[str] = []
    _boto3(model, service, problems, unknown)
    own = endpoint(model, service)
    expected = named_endpoint(model, besides=service)
    passed = unresolved(model, service)
    prebuilt = model.images.get(service) is None or service in model.roles.unread  # its image's ENV is unread
    network_mode = model.service(service).network_mode or ""
    if own is None and any(n in (ENDPOINT, *BOTO_ENDPOINTS) for n in passed):
        unknown.append(f"its endpoint ({ENDPOINT} is passed through from the shell that starts the stack)")
    elif own is None and prebuilt:
        if expected is not None:
            unknown.append(f"its endpoint (its image may set {ENDPOINT}: a prebuilt image's ENV is not read here)")
    elif own is None and expected is not None:
        problems.append(
            f"it has no {ENDPOINT}, while the stack names {expected} elsewhere: its boto3 goes to AWS's S3 with the "
            f"store's keys, and fails there (InvalidAccessKeyId), or hangs where AWS is out of reach.\n"
            f"  Fix, in service {service}:\n    environment:\n      {ENDPOINT}: {expected}"
        )
    elif own is not None and own.host in LOOPBACK and not network_mode.startswith(("host", "service:")):
        target = serving_service(model, _host(expected)) if expected else None
        fix = expected if target is not None and expected else f"http://<the S3 service's name>:{own.port or 9000}"
        problems.append(
            f"its {ENDPOINT} is {own.url}: inside its container, {own.host} is the container itself, not the S3 "
            f"service (that name works only from the host, through a published port).\n"
            f"  Fix, in service {service}:\n    environment:\n      {ENDPOINT}: {fix}"
        )
    elif own is not None and serving_service(model, own.host) is None and "." not in own.host:
        unknown.append(f"whether {own.host} (its {ENDPOINT}) resolves: no service of the stack has that name")
    elif own is not None and expected is not None:
        mine, theirs = serving_service(model, own.host), serving_service(model, _host(expected))
        if mine is not None and theirs is not None and mine.name != theirs.name:  # a proxy, a cluster node: live tells
            unknown.append(f"whether {mine.name} ({own.url}) and {theirs.name} ({expected}) serve the same store")
    found = credentials(model, service)
    in_stack = own is not None and serving_service(model, own.host) is not None
    if found is None and (prebuilt or any(n in (*KEY_PAIR, *OTHER_CREDENTIALS) for n in passed)):
        unknown.append("its credentials (passed through from the shell that starts the stack, or set in its image)")
    elif found is None and in_stack:
        problems.append(
            "it has no credentials for the store (no AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, no "
            'credentials file or profile): boto3 fails with "NoCredentialsError: Unable to locate credentials".\n'
            f"  Fix, in service {service}:\n    environment:\n      AWS_ACCESS_KEY_ID: ${{AWS_ACCESS_KEY_ID}}\n"
            "      AWS_SECRET_ACCESS_KEY: ${AWS_SECRET_ACCESS_KEY}"
        )
    elif found is None:
        unknown.append("its credentials: the files show none, and outside the stack they may come from a role")
    if problems:
        fail(f"{service} cannot use the artifact store: {_why(store)}.\n" + "\n".join(f"- {p}" for p in problems))
    if unknown:
        pytest.skip(f"the files cannot tell whether {service} reaches {store.uri}: " + "; ".join(unknown))
    record_facts(store=store.uri, endpoint=own.url if own else None, credentials=found, proxied=store.proxied)


def _host(url: str | None) -> str:
    return Endpoint.parse(url).host if url else ""


def _boto3(model: StackModel, service: str, problems: list[str], unknown: list[str]) -> None:
    image = model.images.get(service)
    if image is None or service in model.roles.unread:
        unknown.append("whether its image holds boto3 (a prebuilt image: the live item imports it)")
        return
    mlflow = image.python_packages.get("mlflow")
    if any(image.declares(p) for p in BRINGS_BOTO3) or (mlflow is not None and "extras" in mlflow.extras):
        return
    if how := unread_installs(image):
        unknown.append(f"whether its image holds boto3 (it installs through {how})")
        return
    if not image.base_workdir_known:
        unknown.append(f"whether its image holds boto3 (its base {image.base_image} is not built from these files)")
        return
    if "boto3" in image.removed_python_packages:
        problems.append(
            f"its Dockerfile {image.dockerfile.name} uninstalls boto3 (pip uninstall), and MLflow reads and writes "
            f"s3:// artifacts through boto3: \"ModuleNotFoundError: No module named 'boto3'\" at the first artifact."
            "\n  Fix: keep boto3 in the image"
        )
        return
    files = ", ".join(f.name for f in image.dependency_files) or image.dockerfile.name
    problems.append(
        f"its image installs no boto3 (read: {files}), and MLflow reads and writes s3:// artifacts through boto3: "
        f"\"ModuleNotFoundError: No module named 'boto3'\" at the first artifact.\n  Fix: add boto3 to {files}"
    )


def _live(stack: LiveStack, service: str) -> None:
    from ..errors import SmartmaintError

    model = stack.model
    store = s3_store(model)
    assert store is not None
    bucket, prefix, smoke_error, located = store.bucket, store.prefix, None, True
    try:
        smoke = stack.smoke_model()
        where_logged = _key_prefix(store, smoke.artifact_location)
        if where_logged is None:  # an experiment of a reused stack made before the store moved to S3
            located = False
        else:
            bucket, prefix = where_logged
    except SmartmaintError as exc:  # the trainer could not log it: the store's root is listed instead
        smoke_error = (str(exc).splitlines() or ["(no message)"])[0][:300]
    expected = named_endpoint(model, besides=service)
    access = stack.s3_access(service, bucket, prefix, expected)
    record_facts(endpoint=access.endpoint, bucket=bucket, prefix=prefix, keys=len(access.keys))
    where = f"s3://{bucket}/{prefix}"
    at = access.endpoint or "AWS S3"
    head = f"{service} cannot reach the artifact store {store.uri} ({_why(store)})"
    fix_env = f"  Fix, in service {service}:\n    environment:\n      "
    if access.layer == "ok":
        if smoke_error is not None:
            fail(
                f"{service} reaches {store.uri}, but the smoke model could not be logged: {smoke_error}\n"
                "See model-load for what the trainer reported."
            )
        if located and not any(k.endswith("MLmodel") for k in access.keys):
            fail(
                f"{service} reaches {access.endpoint or 'AWS'} and the bucket {store.bucket}, but finds nothing of the "
                f"smoke model under {where} (the registry recorded it there): it reads another store than the one "
                "the model was written to. Compare the services' MLFLOW_S3_ENDPOINT_URL."
            )
        return
    causes = {
        "boto3-missing": (
            f"boto3 does not import in its container ({access.detail}): MLflow reads and writes s3:// artifacts "
            f"through boto3.\n  Fix: add boto3 to {service}'s image"
        ),
        "endpoint-unset": (
            f"it has no {ENDPOINT}, while the stack names {expected} elsewhere: its boto3 would take the store's "
            f"keys to AWS (nothing was sent).\n{fix_env}{ENDPOINT}: {expected}"
        ),
        "unresolvable": f"its {ENDPOINT} {access.endpoint} does not resolve there: {access.detail}",
        "refused": f"its {ENDPOINT} {access.endpoint} refuses the connection: {access.detail}",
        "timeout": f"its {ENDPOINT} {access.endpoint} does not answer: {access.detail}",
        "credentials-missing": (
            f"it has no credentials for the store: {access.detail}\n{fix_env}AWS_ACCESS_KEY_ID: ...\n"
            "      AWS_SECRET_ACCESS_KEY: ..."
        ),
        "credentials-rejected": (
            f"the store at {at} rejects its credentials (access key {access.access_key}): "
            f"{access.detail}\n  "
            + (
                "The key exists, but the secret is not its secret."
                if "SignatureDoesNotMatch" in access.detail
                else "The store has no such access key."
            )
            + f" Fix: give {service} the AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY the store was set up with"
        ),
        "bucket-missing": (
            f"the bucket {store.bucket} does not exist at {at}: {access.detail}\n  MLflow creates no "
            "bucket. Fix: a one-shot job that creates it before the server starts (`mc mb --ignore-existing "
            f"<alias>/{store.bucket}`), and the server's depends_on: condition: service_completed_successfully"
        ),
        "permission-denied": (
            f"the store denies it {where}: {access.detail}\n  Fix: allow its access key s3:GetObject, s3:PutObject "
            f"and s3:ListBucket on {store.bucket}"
        ),
    }
    fail(f"{head}:\n- {causes.get(access.layer, f'{access.layer}: {access.detail}')}")


def _key_prefix(store: S3Store, location: str) -> tuple[str, str] | None:
    """The smoke model's bucket and key prefix, from the artifact location the registry recorded; None when it
    is not in S3 (an experiment made before the store moved there)."""
    if location.startswith("s3://"):
        bucket, _, key = location[len("s3://") :].partition("/")
        return bucket, key
    if store.proxied and location.startswith("mlflow-artifacts:"):
        path = location.split(":", 1)[-1].lstrip("/")  # mlflow-artifacts:/<path>: under the destination
        return store.bucket, "/".join(p for p in (store.prefix.rstrip("/"), path) if p)
    return None


CHECK = Check(NAME, static=static_cases, live=live_cases)
