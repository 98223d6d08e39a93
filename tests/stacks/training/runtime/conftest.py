"""Fixtures for the training runtime tests.

moto emulates S3, CloudWatch Logs and SageMaker; it has no Service Quotas for SageMaker, so that
client is a botocore Stubber that checks every request's parameters.
"""

from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

REGION = "us-east-1"
BUCKET = "workshop-bucket"
QUOTA_CODES = {
    "ml.g4dn.xlarge": "L-3F53BF0F",
    "ml.g5.xlarge": "L-G5XLARGE",
    "ml.p3.2xlarge": "L-P32XLARGE",
}


@pytest.fixture
def aws(monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield


@pytest.fixture
def s3(aws):
    """An S3 client with the workshop bucket created (moto)."""
    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    return client


def quota(instance_type, value, code=None):
    return {
        "ServiceCode": "sagemaker",
        "QuotaCode": code or QUOTA_CODES[instance_type],
        "QuotaName": f"{instance_type} for training job usage",
        "Value": float(value),
    }


class QuotaStub:
    """A Service Quotas client whose answers the test queues in call order."""

    def __init__(self):
        self.client = boto3.client(
            "service-quotas",
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        self.stubber = Stubber(self.client)
        self.stubber.activate()

    def applied(self, *quotas, next_token=None, token=None):
        params = {"ServiceCode": "sagemaker", "MaxResults": 100}
        if token:
            params["NextToken"] = token
        response = {"Quotas": list(quotas)}
        if next_token:
            response["NextToken"] = next_token
        self.stubber.add_response("list_service_quotas", response, params)

    def defaults(self, *quotas):
        self.stubber.add_response(
            "list_aws_default_service_quotas",
            {"Quotas": list(quotas)},
            {"ServiceCode": "sagemaker", "MaxResults": 100},
        )

    def history(self, quota_code, *statuses):
        requests = [
            {
                "Id": f"request-{index}",
                "ServiceCode": "sagemaker",
                "QuotaCode": quota_code,
                "DesiredValue": 1.0,
                "Status": status,
            }
            for index, status in enumerate(statuses)
        ]
        self.stubber.add_response(
            "list_requested_service_quota_change_history_by_quota",
            {"RequestedQuotas": requests},
            {"ServiceCode": "sagemaker", "QuotaCode": quota_code},
        )

    def expect_request(self, quota_code, request_id="new-request"):
        self.stubber.add_response(
            "request_service_quota_increase",
            {
                "RequestedQuota": {
                    "Id": request_id,
                    "ServiceCode": "sagemaker",
                    "QuotaCode": quota_code,
                    "DesiredValue": 1.0,
                    "Status": "PENDING",
                }
            },
            {"ServiceCode": "sagemaker", "QuotaCode": quota_code, "DesiredValue": 1.0},
        )

    def refuse_request(self, quota_code, code="AccessDeniedException"):
        self.stubber.add_client_error(
            "request_service_quota_increase",
            service_error_code=code,
            service_message="not allowed",
            expected_params={
                "ServiceCode": "sagemaker",
                "QuotaCode": quota_code,
                "DesiredValue": 1.0,
            },
        )

    def assert_done(self):
        self.stubber.assert_no_pending_responses()


@pytest.fixture
def quotas():
    stub = QuotaStub()
    yield stub
    stub.assert_done()


@pytest.fixture
def quota_of():
    return quota


def training_job_description(name, instance_type, count=1, status="InProgress", groups=None):
    resources = {"VolumeSizeInGB": 50}
    if groups:
        resources["InstanceGroups"] = [
            {"InstanceType": t, "InstanceCount": n, "InstanceGroupName": f"group-{i}"}
            for i, (t, n) in enumerate(groups)
        ]
    else:
        resources.update({"InstanceType": instance_type, "InstanceCount": count})
    created = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    return {
        "TrainingJobName": name,
        "TrainingJobArn": f"arn:aws:sagemaker:{REGION}:123456789012:training-job/{name}",
        "ModelArtifacts": {"S3ModelArtifacts": ""},
        "TrainingJobStatus": status,
        "SecondaryStatus": "Training",
        "AlgorithmSpecification": {"TrainingInputMode": "File"},
        "ResourceConfig": resources,
        "StoppingCondition": {"MaxRuntimeInSeconds": 1800},
        "CreationTime": created,
    }


class SageMakerStub:
    """A SageMaker client answering list_training_jobs(InProgress) pages and their describes."""

    def __init__(self):
        self.client = boto3.client(
            "sagemaker",
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        self.stubber = Stubber(self.client)
        self.stubber.activate()

    def page(self, *descriptions, next_token=None, token=None):
        params = {"StatusEquals": "InProgress"}
        if token:
            params["NextToken"] = token
        response = {
            "TrainingJobSummaries": [
                {
                    "TrainingJobName": d["TrainingJobName"],
                    "TrainingJobArn": d["TrainingJobArn"],
                    "CreationTime": d["CreationTime"],
                    "TrainingJobStatus": "InProgress",
                }
                for d in descriptions
            ]
        }
        if next_token:
            response["NextToken"] = next_token
        self.stubber.add_response("list_training_jobs", response, params)
        for description in descriptions:
            self.stubber.add_response(
                "describe_training_job",
                description,
                {"TrainingJobName": description["TrainingJobName"]},
            )


@pytest.fixture
def sagemaker_stub():
    stub = SageMakerStub()
    yield stub
    stub.stubber.assert_no_pending_responses()


@pytest.fixture
def job_description():
    return training_job_description
