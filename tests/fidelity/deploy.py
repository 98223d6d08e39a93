"""Deploy a synthesized stack into the emulator's CloudFormation, as `cdk deploy` would: file assets
zipped into the bootstrap bucket at the keys of the cloud assembly's *.assets.json, the template from
there, and every custom resource answered (by running its handler where the test can).
`create_stack` deploys a template already uploaded (the workshop template, from its asset bucket).
"""

from __future__ import annotations

import copy
import io
import json
import time
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .cfn import Template

# Resource types moto 5.2.5's CloudFormation does not create: it logs "No Moto CloudFormation
# support for <type>", lists them with no status, and fails CreateStack ("Fn::GetAtt references
# undefined resource") when anything reads an attribute of them. Observed, not assumed: the deploy
# test fails when this list differs from what the emulator skips.
EMULATOR_SKIPS = {
    "AWS::CodeBuild::Project": "no CloudFormation model for CodeBuild in moto",
    "AWS::S3::BucketPolicy": "no CloudFormation model for bucket policies in moto",
    "AWS::SNS::Subscription": "no CloudFormation model for SNS subscriptions in moto",
    "AWS::SNS::TopicPolicy": "no CloudFormation model for SNS topic policies in moto",
}
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
BOOTSTRAP_VERSION = "/cdk-bootstrap/hnb659fds/version"


def upload_assets(assembly: Path, stack_artifact: str, s3: Any, account: str, region: str) -> str:
    """Put every file asset where the template expects it; returns the template's S3 URL."""
    manifest = json.loads((assembly / f"{stack_artifact}.assets.json").read_text())
    template_url = ""
    for asset in manifest["files"].values():
        source = assembly / asset["source"]["path"]
        if asset["source"].get("packaging") == "zip":
            data = io.BytesIO()
            with zipfile.ZipFile(data, "w", zipfile.ZIP_DEFLATED) as bundle:
                for path in sorted(source.rglob("*")):
                    if path.is_file():
                        bundle.write(path, path.relative_to(source))
            body = data.getvalue()
        else:
            body = source.read_bytes()
        for destination in asset["destinations"].values():
            bucket = destination["bucketName"].replace("${AWS::AccountId}", account)
            bucket = bucket.replace("${AWS::Region}", region)
            existing = [b["Name"] for b in s3.list_buckets().get("Buckets", [])]
            if bucket not in existing:
                configuration = (
                    {}
                    if region == "us-east-1"
                    else {"CreateBucketConfiguration": {"LocationConstraint": region}}
                )
                s3.create_bucket(Bucket=bucket, **configuration)
            s3.put_object(Bucket=bucket, Key=destination["objectKey"], Body=body)
            if source.name.endswith(".template.json"):
                template_url = (
                    f"https://s3.{region}.amazonaws.com/{bucket}/{destination['objectKey']}"
                )
    return template_url


def for_the_emulator(template: Template) -> tuple[dict[str, Any], list[str]]:
    """The template with every Ref/GetAtt of a skipped resource replaced by the name or ARN
    CloudFormation would give it (the emulator fails on them otherwise); returns what was replaced."""
    skipped = {k for k, v in template.resources.items() if v["Type"] in EMULATOR_SKIPS}
    replaced: list[str] = []

    def walk(value: Any) -> Any:
        if isinstance(value, list):
            return [walk(v) for v in value]
        if not isinstance(value, dict):
            return value
        target = template.referenced_logical_id(value)
        if target in skipped:
            replaced.append(json.dumps(value))
            return template.resolve(value)
        return {k: walk(v) for k, v in value.items()}

    body = copy.deepcopy(template.body)
    for logical_id, resource in body["Resources"].items():
        if logical_id not in skipped:
            body["Resources"][logical_id] = walk(resource)
    body["Outputs"] = walk(body.get("Outputs", {}))
    return body, sorted(set(replaced))


def answer_custom_resource(
    endpoint: str, region: str, stack_id: str, logical_id: str, data: dict
) -> None:
    body = json.dumps(
        {
            "Status": "SUCCESS",
            "StackId": stack_id,
            "LogicalResourceId": logical_id,
            "RequestId": f"fidelity-{logical_id}",
            "PhysicalResourceId": data.get("PhysicalResourceId", f"{logical_id}-physical-id"),
            "Data": data.get("Data", {}),
        }
    ).encode()
    request = urllib.request.Request(
        f"{endpoint}/cloudformation_{region}/cfnresponse?stack={stack_id}",
        data=body,
        method="PUT",
        headers={
            # As CDK's handlers send it; the emulator routes a form or JSON content type elsewhere.
            "Content-Type": "",
            # The emulator takes the stack's region from a signature (AWS's own response URL is
            # a presigned S3 URL); without one it looks in us-east-1 only.
            "Authorization": f"AWS4-HMAC-SHA256 Credential=testing/20260101/{region}/"
            "cloudformation/aws4_request",
        },
    )
    urllib.request.urlopen(request, timeout=30).close()


def deploy(
    clients: Callable[[str], Any],
    endpoint: str,
    template: Template,
    assembly: Path,
    answers: Callable[[str, dict], dict],
    timeout: float = 60,
) -> tuple[dict[str, Any], list[str]]:
    """Upload the assets, CreateStack from the bootstrap bucket, answer each custom resource with
    `answers(logical_id, resource)`, wait; returns the stack and the references replaced."""
    clients("ssm").put_parameter(Name=BOOTSTRAP_VERSION, Value="30", Type="String", Overwrite=True)
    artifact = template.path.name.removesuffix(".template.json")
    template_url = upload_assets(
        assembly, artifact, clients("s3"), template.account, template.region
    )
    return create_stack(clients, endpoint, template, template_url, answers, timeout=timeout)


def create_stack(
    clients: Callable[[str], Any],
    endpoint: str,
    template: Template,
    template_url: str,
    answers: Callable[[str, dict], dict],
    parameters: dict[str, str] | None = None,
    timeout: float = 60,
) -> tuple[dict[str, Any], list[str]]:
    """CreateStack from the emulator's copy of the template at `template_url` (uploaded beside it),
    with `parameters`; answer each custom resource with `answers(logical_id, resource)`, wait."""
    s3, cloudformation = clients("s3"), clients("cloudformation")
    body, replaced = for_the_emulator(template)
    bucket, key = template_url.split(".amazonaws.com/", 1)[1].split("/", 1)
    # The emulator's copy sits beside the original, which stays as synthesized.
    s3.put_object(Bucket=bucket, Key=f"emulator/{key}", Body=json.dumps(body).encode())
    stack_id = cloudformation.create_stack(
        StackName=template.stack_name,
        TemplateURL=template_url.replace(key, f"emulator/{key}"),
        Parameters=[
            {"ParameterKey": name, "ParameterValue": value}
            for name, value in (parameters or {}).items()
        ],
        Capabilities=CAPABILITIES,
    )["StackId"]
    for logical_id, resource in template.custom_resources().items():
        if not template.included(logical_id):
            continue
        answer_custom_resource(
            endpoint, template.region, stack_id, logical_id, answers(logical_id, resource)
        )
    deadline = time.monotonic() + timeout
    while True:
        stack = cloudformation.describe_stacks(StackName=stack_id)["Stacks"][0]
        if not stack["StackStatus"].endswith("_IN_PROGRESS") or time.monotonic() > deadline:
            return stack, replaced
        time.sleep(0.5)
