"""An S3 API that checks its callers, as MinIO does: moto's server, with IAM authentication from the first request.

moto signs nothing by default; with INITIAL_NO_AUTH_ACTION_COUNT=0 it checks every request's signature against
its IAM users. One user is created here, before the server starts, with the access key and secret the stack sets
(S3_ACCESS_KEY, S3_SECRET_KEY, as MINIO_ROOT_USER and MINIO_ROOT_PASSWORD are for MinIO), allowed s3:* on every
bucket. A wrong secret then gets SignatureDoesNotMatch, an unknown key InvalidAccessKeyId, as from MinIO or AWS.
With S3_NARROW_KEY, S3_NARROW_SECRET and S3_NARROW_BUCKET a second user is made, allowed only that bucket's
objects: its requests elsewhere get AccessDenied, as a MinIO user under a narrower policy does.

moto's signature check rebuilds the request from the URL as its web framework decoded it: a query value with a
"/" (MLflow lists prefixes: prefix=artifacts/1/&delimiter=/) no longer reads as the client signed it (%2F), and
a sound request is refused. The query is quoted again here, as SigV4's canonical request has it.

moto's check also knows only the Authorization header: a presigned URL (SigV4 in the query, as MinIO and AWS take
it) crashes it (HTTP 500). MLflow 3.15 to 3.17 servers hand such URLs to their clients when they proxy an S3 store,
so they are checked here, as S3 checks them: the signature over method, path, query and host, the key (the store's
own user: the server presigns with its keys), and the expiry.
"""

import datetime
import hashlib
import hmac
import json
import os
from urllib.parse import parse_qsl, quote, unquote, urlsplit, urlunsplit

os.environ["INITIAL_NO_AUTH_ACTION_COUNT"] = "0"

from moto.core import DEFAULT_ACCOUNT_ID  # noqa: E402  (after the setting moto reads at import)
from moto.core.authorization import ActionAuthenticatorMixin  # noqa: E402
from moto.iam import access_control  # noqa: E402
from moto.iam.models import iam_backends  # noqa: E402
from moto.server import main  # noqa: E402

_rebuilt = access_control.IAMRequestBase._create_aws_request


def _sigv4_query(self):  # type: ignore[no-untyped-def]
    request = _rebuilt(self)
    parts = urlsplit(request.url)
    if parts.query:
        pairs = (pair.partition("=") for pair in parts.query.split("&"))
        query = "&".join(f"{quote(unquote(k), safe='-_.~')}={quote(unquote(v), safe='-_.~')}" for k, _, v in pairs)
        request.url = urlunsplit(parts._replace(query=query))
    return request


access_control.IAMRequestBase._create_aws_request = _sigv4_query

KEY, SECRET = os.environ["S3_ACCESS_KEY"], os.environ["S3_SECRET_KEY"]


def _quoted(text: str, safe: str = "-_.~") -> str:
    return quote(unquote(text), safe=safe)


def _presigned_error(method: str, path: str, query: str, host: str) -> str | None:
    """What is wrong with a SigV4 presigned request (an S3 error code), or None when S3 would take it."""
    params = dict(parse_qsl(query, keep_blank_values=True))
    key, date, region, service, _ = (params.get("X-Amz-Credential", "") + "/////").split("/", 4)
    if key != KEY:
        return "InvalidAccessKeyId"
    try:
        signed_at = datetime.datetime.strptime(params.get("X-Amz-Date", ""), "%Y%m%dT%H%M%SZ")
        expires = signed_at + datetime.timedelta(seconds=int(params.get("X-Amz-Expires", "0")))
    except ValueError:  # no date or lifetime S3 would read: it refuses the signature
        return "SignatureDoesNotMatch"
    if expires < datetime.datetime.now(datetime.UTC).replace(tzinfo=None):
        return "AccessDenied"  # (S3: "Request has expired")
    headers = {"host": host}
    signed = params.get("X-Amz-SignedHeaders", "host")
    canonical_query = "&".join(
        f"{_quoted(k)}={_quoted(v)}" for k, v in sorted(params.items()) if k != "X-Amz-Signature"
    )
    canonical = "\n".join(
        [
            method,
            _quoted(path, safe="/-_.~"),
            canonical_query,
            "".join(f"{name}:{headers.get(name, '').strip()}\n" for name in signed.split(";")),
            signed,
            "UNSIGNED-PAYLOAD",
        ]
    )
    scope = f"{date}/{region}/{service}/aws4_request"
    to_sign = f"AWS4-HMAC-SHA256\n{params['X-Amz-Date']}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    signing = f"AWS4{SECRET}".encode()
    for part in (date, region, service, "aws4_request"):
        signing = hmac.new(signing, part.encode(), hashlib.sha256).digest()
    expected = hmac.new(signing, to_sign.encode(), hashlib.sha256).hexdigest()
    return None if hmac.compare_digest(expected, params.get("X-Amz-Signature", "")) else "SignatureDoesNotMatch"


_s3_action = ActionAuthenticatorMixin._authenticate_and_authorize_s3_action


def _presigned_or_header(self, bucket_name=None, key_name=None):  # type: ignore[no-untyped-def]
    query = urlsplit(self.uri).query
    if "Authorization" in self.headers or "X-Amz-Signature=" not in query:
        return _s3_action(self, bucket_name, key_name)
    from moto.s3.exceptions import S3AccessDeniedError, S3InvalidAccessKeyIdError, S3SignatureDoesNotMatchError

    error = _presigned_error(self.method, urlsplit(self.raw_path).path, query, self.headers.get("Host", ""))
    if error is not None:
        raise {
            "InvalidAccessKeyId": S3InvalidAccessKeyIdError,
            "SignatureDoesNotMatch": S3SignatureDoesNotMatchError,
            "AccessDenied": S3AccessDeniedError,
        }[error]()


ActionAuthenticatorMixin._authenticate_and_authorize_s3_action = _presigned_or_header

iam = iam_backends[DEFAULT_ACCOUNT_ID]["global"]


def user(name: str, key: str, secret: str, resource: str) -> None:
    """An IAM user with this access key and secret, allowed s3:* on ``resource`` alone."""
    iam.create_user(region_name="us-east-1", user_name=name, path="/")
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": resource}]}
    iam.put_user_policy(name, f"{name}-policy", json.dumps(policy))
    access = iam.create_access_key(name)
    access.access_key_id, access.secret_access_key = key, secret


user("store", KEY, SECRET, "*")
if os.environ.get("S3_NARROW_KEY"):  # a second user whose keys are sound, but allowed only one bucket's objects
    narrow = os.environ["S3_NARROW_BUCKET"]
    user("narrow", os.environ["S3_NARROW_KEY"], os.environ["S3_NARROW_SECRET"], f"arn:aws:s3:::{narrow}/*")
main(["-H", "0.0.0.0", "-p", os.environ.get("S3_PORT", "9000")])
