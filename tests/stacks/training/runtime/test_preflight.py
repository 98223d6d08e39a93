import boto3
import pytest
from botocore.exceptions import ClientError

from stacks.training.runtime.workshop_runtime import preflight as preflight_module
from stacks.training.runtime.workshop_runtime.preflight import (
    PHYSICAL_RESOURCE_ID,
    GpuQuotaRequiredError,
    PreflightPropertiesError,
    on_event,
)


def event(request_type="Create", request_increase="false", require="false", **extra):
    return {
        "RequestType": request_type,
        "ResourceProperties": {
            "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:provider",
            "InstanceTypes": ["ml.g4dn.xlarge", "ml.g5.xlarge"],
            "RequestQuotaIncrease": request_increase,
            "RequireGpuQuota": require,
        },
        **extra,
    }


def run(quotas, the_event):
    return on_event(
        the_event,
        servicequotas=quotas.client,
        sagemaker=boto3.client("sagemaker"),
        region="us-east-1",
    )


def test_create_reports_the_first_type_with_quota_and_one_line_per_type(aws, quotas, quota_of):
    quotas.applied(quota_of("ml.g5.xlarge", 1))
    quotas.defaults(quota_of("ml.g4dn.xlarge", 0))
    result = run(quotas, event(request_increase="true", require="true"))
    assert result["PhysicalResourceId"] == PHYSICAL_RESOURCE_ID
    assert result["Data"]["InstanceType"] == "ml.g5.xlarge"
    assert result["Data"]["Summary"].splitlines() == [
        "ml.g4dn.xlarge: quota 0 (AWS default, L-3F53BF0F), 0 in use by running training jobs",
        "ml.g5.xlarge: quota 1 (applied, L-G5XLARGE), 0 in use by running training jobs",
    ]


def test_no_quota_without_request_or_requirement_deploys_with_none(aws, quotas, quota_of):
    quotas.applied()
    quotas.defaults(quota_of("ml.g4dn.xlarge", 0), quota_of("ml.g5.xlarge", 0))
    result = run(quotas, event())
    assert result["Data"]["InstanceType"] == "none"
    assert len(result["Data"]["Summary"].splitlines()) == 2


def test_no_quota_files_one_request_for_the_first_preferred_type(aws, quotas, quota_of):
    quotas.applied()
    quotas.defaults(quota_of("ml.g4dn.xlarge", 0), quota_of("ml.g5.xlarge", 0))
    quotas.history("L-3F53BF0F", "DENIED")
    quotas.expect_request("L-3F53BF0F", request_id="req-42")
    result = run(quotas, event(request_increase="true"))
    assert (
        "Filed increase request req-42 for 'ml.g4dn.xlarge for training job usage' = 1"
        in result["Data"]["Summary"]
    )


def test_open_request_means_no_new_request(aws, quotas, quota_of):
    quotas.applied()
    quotas.defaults(quota_of("ml.g4dn.xlarge", 0), quota_of("ml.g5.xlarge", 0))
    quotas.history("L-3F53BF0F", "CASE_OPENED")
    # The stub fails the test if request_service_quota_increase is called: nothing is queued for it.
    result = run(quotas, event(request_increase="true"))
    assert "is already CASE_OPENED" in result["Data"]["Summary"]
    assert "not filing another" in result["Data"]["Summary"]


def test_request_goes_to_the_first_type_the_region_offers(aws, quotas, quota_of):
    quotas.applied()
    quotas.defaults(quota_of("ml.g5.xlarge", 0))
    # g4dn is not offered here; its known code must not be used for a request.
    quotas.history("L-G5XLARGE")
    quotas.expect_request("L-G5XLARGE")
    result = run(quotas, event(request_increase="true"))
    assert "for 'ml.g5.xlarge for training job usage' = 1" in result["Data"]["Summary"]


def test_a_refused_request_is_reported_without_failing_the_deploy(aws, quotas, quota_of):
    quotas.applied()
    quotas.defaults(quota_of("ml.g4dn.xlarge", 0), quota_of("ml.g5.xlarge", 0))
    quotas.history("L-3F53BF0F")
    quotas.refuse_request("L-3F53BF0F")
    result = run(quotas, event(request_increase="true"))
    assert (
        "Could not request 'ml.g4dn.xlarge for training job usage' = 1 (L-3F53BF0F): AccessDeniedException"
        in result["Data"]["Summary"]
    )


def test_require_gpu_quota_fails_the_deploy_after_filing_the_request(aws, quotas, quota_of):
    quotas.applied()
    quotas.defaults(quota_of("ml.g4dn.xlarge", 0), quota_of("ml.g5.xlarge", 0))
    quotas.history("L-3F53BF0F")
    quotas.expect_request("L-3F53BF0F", request_id="req-7")
    with pytest.raises(GpuQuotaRequiredError) as caught:
        run(quotas, event(request_increase="true", require="true"))
    message = str(caught.value)
    assert "--quota-code L-3F53BF0F --desired-value 1" in message
    assert "Filed increase request req-7" in message
    assert "RequireGpuQuota is true" in message


def test_require_gpu_quota_passes_when_a_type_has_quota(aws, quotas, quota_of):
    quotas.applied(quota_of("ml.g4dn.xlarge", 1), quota_of("ml.g5.xlarge", 0))
    assert run(quotas, event(require="true"))["Data"]["InstanceType"] == "ml.g4dn.xlarge"


def test_unreadable_quotas_are_reported_unless_quota_is_required(aws, quotas):
    for _ in range(2):
        quotas.stubber.add_client_error(
            "list_service_quotas",
            service_error_code="AccessDeniedException",
            service_message="denied by SCP",
        )
    result = run(quotas, event())
    assert result["Data"] == {
        "InstanceType": "none",
        "Summary": "Could not read SageMaker training quotas: AccessDeniedException: denied by SCP",
    }
    with pytest.raises(ClientError, match="denied by SCP"):
        run(quotas, event(require="true"))


def test_update_keeps_the_physical_resource_id(aws, quotas, quota_of):
    quotas.applied(quota_of("ml.g4dn.xlarge", 1), quota_of("ml.g5.xlarge", 1))
    result = run(quotas, event("Update", PhysicalResourceId="existing-id"))
    assert result["PhysicalResourceId"] == "existing-id"


def test_delete_does_nothing_and_never_fails(monkeypatch):
    def no_aws(*args, **kwargs):
        raise AssertionError("Delete must not call AWS")

    monkeypatch.setattr(preflight_module.boto3.session, "Session", no_aws)
    delete = {
        "RequestType": "Delete",
        "PhysicalResourceId": "existing-id",
        "ResourceProperties": {"InstanceTypes": "garbage"},
    }
    assert preflight_module.handler(delete, None) == {"PhysicalResourceId": "existing-id"}
    assert preflight_module.handler({"RequestType": "Delete"}, None) == {
        "PhysicalResourceId": PHYSICAL_RESOURCE_ID
    }


@pytest.mark.parametrize(
    ("properties", "expected"),
    [
        ({"InstanceTypes": []}, "InstanceTypes must be a non-empty list"),
        (
            {"InstanceTypes": ["ml.g4dn.xlarge"], "RequireGpuQuota": "yes"},
            "RequireGpuQuota must be 'true' or 'false'",
        ),
    ],
)
def test_bad_properties_are_named(properties, expected):
    with pytest.raises(PreflightPropertiesError, match=expected):
        on_event(
            {"RequestType": "Create", "ResourceProperties": properties},
            servicequotas=None,
            sagemaker=None,
        )


def test_handler_wires_the_clients(aws, quotas, quota_of, monkeypatch):
    quotas.applied(quota_of("ml.g4dn.xlarge", 2), quota_of("ml.g5.xlarge", 0))
    real_session = boto3.session.Session

    class Session(real_session):
        def client(self, service_name, **kwargs):
            if service_name == "service-quotas":
                return quotas.client
            return super().client(service_name, **kwargs)

    monkeypatch.setattr(preflight_module.boto3.session, "Session", Session)
    assert preflight_module.handler(event(), None)["Data"]["InstanceType"] == "ml.g4dn.xlarge"
