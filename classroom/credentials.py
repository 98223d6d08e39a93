"""Each account's credentials: the environment its `cdk` runs in, the boto3 session that reads it,
and why an account could not be reached, in a few words."""

from __future__ import annotations

import os
from collections.abc import Mapping

import boto3
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ProfileNotFound,
    SSOTokenLoadError,
    TokenRetrievalError,
)

from stacks.config.targets import Target

# Credentials in the environment outrank AWS_PROFILE in the SDKs: an account with a profile runs
# without them, so the profile's credentials are the ones used.
STATIC_CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
_DENIED = {
    "AccessDenied",
    "AccessDeniedException",
    "AuthorizationError",
    "UnauthorizedOperation",
}
_REJECTED = {
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "UnrecognizedClientException",
    "InvalidAccessKeyId",
}


def cli_environment(target: Target, base: Mapping[str, str]) -> dict[str, str]:
    """The environment of the `cdk` command for `target`."""
    environment = dict(base)
    if target.profile:
        for name in (*STATIC_CREDENTIALS, "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
            environment.pop(name, None)
        environment["AWS_PROFILE"] = target.profile
    return environment


def session(target: Target) -> boto3.Session:
    """A named profile outranks credentials in the environment here (botocore's rule). Without a
    region in the entry, AWS_REGION comes first, as in the CDK CLI that deploys the stacks (botocore
    itself reads only AWS_DEFAULT_REGION), then the profile's."""
    region = target.region or os.environ.get("AWS_REGION") or None
    return boto3.Session(profile_name=target.profile, region_name=region)


def unreachable_reason(error: Exception, target: Target) -> str:
    """Why an account could not be read, as a table cell."""
    profile = f" (profile {target.profile})" if target.profile else ""
    if isinstance(error, ProfileNotFound):
        return f"no profile {target.profile} in the AWS config"
    if isinstance(error, NoCredentialsError):
        return f"no credentials{profile}"
    if isinstance(error, SSOTokenLoadError | TokenRetrievalError):
        return f"SSO login expired: aws sso login{' --profile ' + target.profile if target.profile else ''}"
    if isinstance(error, NoRegionError):
        return f"no region{profile}: set AWS_REGION or the profile's region"
    if isinstance(error, EndpointConnectionError | ConnectTimeoutError):
        return f"cannot reach AWS{profile}: {error}"
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        code, message = details.get("Code", "?"), details.get("Message", "")
        if code in _DENIED:
            return f"access denied{profile}: {message}"
        if code in _REJECTED:
            return f"credentials rejected{profile}: {code}"
        return f"{code}: {message}"
    if isinstance(error, BotoCoreError):
        return f"{type(error).__name__}: {error}"
    raise error
