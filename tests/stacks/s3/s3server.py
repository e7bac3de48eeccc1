"""An S3 API that checks its callers, as MinIO does: moto's server, with IAM authentication from the first request.

moto signs nothing by default; with INITIAL_NO_AUTH_ACTION_COUNT=0 it checks every request's signature against
its IAM users. One user is created here, before the server starts, with the access key and secret the stack sets
(S3_ACCESS_KEY, S3_SECRET_KEY, as MINIO_ROOT_USER and MINIO_ROOT_PASSWORD are for MinIO), allowed s3:* on every
bucket. A wrong secret then gets SignatureDoesNotMatch, an unknown key InvalidAccessKeyId, as from MinIO or AWS.

moto's signature check rebuilds the request from the URL as its web framework decoded it: a query value with a
"/" (MLflow lists prefixes: prefix=artifacts/1/&delimiter=/) no longer reads as the client signed it (%2F), and
a sound request is refused. The query is quoted again here, as SigV4's canonical request has it.
"""

import json
import os
from urllib.parse import quote, unquote, urlsplit, urlunsplit

os.environ["INITIAL_NO_AUTH_ACTION_COUNT"] = "0"

from moto.core import DEFAULT_ACCOUNT_ID  # noqa: E402  (after the setting moto reads at import)
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

iam = iam_backends[DEFAULT_ACCOUNT_ID]["global"]
iam.create_user(region_name="us-east-1", user_name="store", path="/")
policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
iam.put_user_policy("store", "store-all", json.dumps(policy))
access = iam.create_access_key("store")
access.access_key_id = os.environ["S3_ACCESS_KEY"]
access.secret_access_key = os.environ["S3_SECRET_KEY"]
main(["-H", "0.0.0.0", "-p", os.environ.get("S3_PORT", "9000")])
