"""The S3 client recpack uses, its transfer settings, and S3's errors as one-line CloudErrors.

boto3 is imported only when a command talks to S3: `recpack --help`, list and pack never load it.
"""

from __future__ import annotations

from typing import Any, Protocol

from ..errors import CloudError

CHUNK = 8 * 1024 * 1024  # multipart threshold and part size
_NOT_FOUND = ("404", "NoSuchKey", "NotFound")


class S3Client(Protocol):
    """The calls recpack makes on boto3's S3 client (boto3 ships no type information)."""

    def get_paginator(self, operation_name: str) -> Any: ...
    def head_object(self, **kwargs: Any) -> dict[str, Any]: ...
    def head_bucket(self, **kwargs: Any) -> dict[str, Any]: ...
    def get_object(self, **kwargs: Any) -> dict[str, Any]: ...
    def put_object(self, **kwargs: Any) -> dict[str, Any]: ...
    def delete_objects(self, **kwargs: Any) -> dict[str, Any]: ...
    def upload_file(self, filename: str, bucket: str, key: str, /, **kwargs: Any) -> None: ...
    def download_file(self, bucket: str, key: str, filename: str, /, **kwargs: Any) -> None: ...


def s3_client(endpoint_url: str | None = None) -> S3Client:
    import boto3
    from botocore.config import Config

    # boto3 reads AWS_ENDPOINT_URL itself when endpoint_url is None.
    client: S3Client = boto3.client(
        "s3",
        endpoint_url=endpoint_url or None,
        config=Config(retries={"max_attempts": 8, "mode": "standard"}),
    )
    return client


def transfer_config() -> Any:  # boto3's TransferConfig (untyped)
    from boto3.s3.transfer import TransferConfig

    return TransferConfig(multipart_threshold=CHUNK, multipart_chunksize=CHUNK, max_concurrency=4)


def explain(exc: Exception, action: str) -> CloudError:
    """What went wrong while doing `action`, in one line the user can act on."""
    from boto3.exceptions import S3UploadFailedError
    from botocore.exceptions import (
        ClientError,
        ConnectionError,
        EndpointConnectionError,
        HTTPClientError,
        NoCredentialsError,
    )

    if isinstance(exc, NoCredentialsError):
        return CloudError(
            f"{action}: no AWS credentials found (configure a profile or set AWS_ACCESS_KEY_ID)"
        )
    if isinstance(exc, EndpointConnectionError):
        return CloudError(
            f"{action}: cannot reach {exc.kwargs.get('endpoint_url', 'the S3 endpoint')} "
            "(retried); check the network or --endpoint-url and run the command again"
        )
    if isinstance(exc, ClientError):
        return CloudError(f"{action}: {_refusal(exc.response.get('Error', {}), exc)}")
    # s3transfer wraps S3's refusal in its own error: find the code again in its words.
    code = next((code for code in _ADVICE if f"({code})" in str(exc)), None)
    if isinstance(exc, S3UploadFailedError) and code:
        return CloudError(f"{action}: {_ADVICE[code]}")
    if isinstance(exc, (ConnectionError, HTTPClientError, S3UploadFailedError)):
        return CloudError(
            f"{action}: the connection failed after retries ({exc}); nothing partial is "
            "visible in the bucket: run the command again"
        )
    return CloudError(f"{action}: {exc}")


def _refusal(error: dict[str, Any], exc: Exception) -> str:
    code = str(error.get("Code", "error"))
    return _ADVICE.get(code) or f"{code}: {error.get('Message', exc)}"


# S3's refusals a user can act on, by error code: what is wrong and what to do.
_ADVICE = {
    "NoSuchBucket": "the bucket does not exist (or not in this account and region): check "
    "--bucket, the AWS profile and the region",
    "AccessDenied": "access denied: these credentials may not do this; check --bucket, the AWS "
    "profile, and the role's permissions",
    "AllAccessDisabled": "access to the bucket is disabled: check --bucket",
    "InvalidAccessKeyId": "the AWS access key is not known: check the credentials or the profile",
    "SignatureDoesNotMatch": "the AWS secret key does not match the access key: check the "
    "credentials",
    "ExpiredToken": "the AWS session has expired: sign in again (aws sso login, or new keys)",
    "PermanentRedirect": "the bucket is in another region: set AWS_DEFAULT_REGION (or "
    "--region) to the bucket's region",
    "AuthorizationHeaderMalformed": "the bucket is in another region: set AWS_DEFAULT_REGION to "
    "the bucket's region",
    "NoSuchKey": "no such object in the bucket: check the key (an upload event's key, or "
    "--source-key)",
    "404": "not found (no such object, or no such bucket)",
    "403": "access denied (the object or bucket is not accessible with these credentials)",
}


def normalise_prefix(prefix: str) -> str:
    """'' or 'a/b/': what a key under the prefix starts with."""
    prefix = prefix.strip("/")
    return prefix + "/" if prefix else ""


def list_objects(s3: S3Client, bucket: str, prefix: str) -> list[dict[str, Any]]:
    objects = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        objects.extend(page.get("Contents", []))
    return objects


def existing_key(s3: S3Client, bucket: str, key: str) -> str:
    """`key`, or its URL-decoded form when only that exists: S3 notifications URL-encode keys
    ('red flower.zip' arrives as 'red+flower.zip'), and a key may really contain '%' or '+'."""
    from urllib.parse import unquote_plus

    from botocore.exceptions import ClientError

    decoded = unquote_plus(key)
    if decoded == key:
        return key
    try:
        s3.head_object(Bucket=bucket, Key=key)
        return key
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in _NOT_FOUND:
            raise explain(exc, f"reading s3://{bucket}/{key}") from None
    return decoded


def download(s3: S3Client, bucket: str, key: str, path: str) -> None:
    action = f"downloading s3://{bucket}/{key}"
    try:
        s3.download_file(bucket, key, path, Config=transfer_config())
    except Exception as exc:
        if _error_code(exc) in _NOT_FOUND:
            # S3 answers a missing bucket and a missing key alike here: say which it is.
            missing = "NoSuchBucket" if not bucket_exists(s3, bucket) else "NoSuchKey"
            raise CloudError(f"{action}: {_ADVICE[missing]}") from None
        raise explain(exc, action) from None


def _error_code(exc: Exception) -> str | None:
    response = getattr(exc, "response", None)
    return str(response.get("Error", {}).get("Code")) if isinstance(response, dict) else None


def bucket_exists(s3: S3Client, bucket: str) -> bool:
    """False when S3 says the bucket does not exist; True otherwise (also when it cannot say)."""
    try:
        s3.head_bucket(Bucket=bucket)
    except Exception as exc:
        return _error_code(exc) not in ("404", "NoSuchBucket")
    return True
