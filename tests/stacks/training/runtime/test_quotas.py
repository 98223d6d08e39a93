import boto3

from stacks.training.runtime.workshop_runtime.quotas import (
    Capacity,
    InstanceQuota,
    NoGpuQuotaError,
    count_instances_in_use,
    get_quotas,
    get_training_quotas,
    get_training_usage,
    open_increase_requests,
    request_increase,
    training_quota_name,
)

PREFERENCE = ["ml.g4dn.xlarge", "ml.g5.xlarge"]


def test_quota_name_is_the_service_quotas_name_with_ml_prefix():
    assert training_quota_name("g4dn.xlarge") == "ml.g4dn.xlarge for training job usage"
    assert training_quota_name("ml.g4dn.xlarge") == "ml.g4dn.xlarge for training job usage"
    assert (
        training_quota_name("ml.g4dn.xlarge", spot=True)
        == "ml.g4dn.xlarge for spot training job usage"
    )


def test_one_pass_finds_the_spot_and_on_demand_quotas(quotas, quota_of):
    spot = {
        "ServiceCode": "sagemaker",
        "QuotaCode": "L-SPOTG4DN",
        "QuotaName": "ml.g4dn.xlarge for spot training job usage",
        "Value": 2.0,
    }
    quotas.applied(quota_of("ml.g4dn.xlarge", 1), spot)
    found = get_quotas(
        quotas.client, [Capacity("ml.g4dn.xlarge", True), Capacity("g4dn.xlarge", False)]
    )
    assert found == {
        Capacity("ml.g4dn.xlarge", True): InstanceQuota(
            "ml.g4dn.xlarge", 2.0, "L-SPOTG4DN", "applied", spot=True
        ),
        Capacity("ml.g4dn.xlarge", False): InstanceQuota(
            "ml.g4dn.xlarge", 1.0, "L-3F53BF0F", "applied"
        ),
    }
    assert found[Capacity("ml.g4dn.xlarge", True)].name == (
        "ml.g4dn.xlarge for spot training job usage"
    )


def test_applied_quotas_are_found_by_name_across_pages(quotas, quota_of):
    quotas.applied(quota_of("ml.p3.2xlarge", 1), next_token="page-2")
    quotas.applied(
        quota_of("ml.g5.xlarge", 2),
        # The spot quota has a similar name and must not be taken for the on-demand one.
        {
            "QuotaCode": "L-SPOT",
            "QuotaName": "ml.g4dn.xlarge for spot training job usage",
            "Value": 7.0,
        },
        next_token="page-3",
        token="page-2",
    )
    quotas.applied(quota_of("ml.g4dn.xlarge", 1), token="page-3")
    found = get_training_quotas(quotas.client, ["g4dn.xlarge", "ml.g5.xlarge"])
    assert found == {
        "ml.g4dn.xlarge": InstanceQuota("ml.g4dn.xlarge", 1.0, "L-3F53BF0F", "applied"),
        "ml.g5.xlarge": InstanceQuota("ml.g5.xlarge", 2.0, "L-G5XLARGE", "applied"),
    }


def test_paging_stops_once_every_quota_is_found(quotas, quota_of):
    quotas.applied(quota_of("ml.g4dn.xlarge", 1), quota_of("ml.g5.xlarge", 0), next_token="more")
    found = get_training_quotas(quotas.client, PREFERENCE)
    assert [q.value for q in found.values()] == [1.0, 0.0]


def test_quota_without_applied_value_comes_from_the_aws_defaults(quotas, quota_of):
    quotas.applied(quota_of("ml.g5.xlarge", 1))
    quotas.defaults(quota_of("ml.g4dn.xlarge", 0), quota_of("ml.g5.xlarge", 4))
    found = get_training_quotas(quotas.client, PREFERENCE)
    assert found["ml.g4dn.xlarge"] == InstanceQuota("ml.g4dn.xlarge", 0.0, "L-3F53BF0F", "default")
    # The applied value wins over the default of the same quota.
    assert found["ml.g5.xlarge"].value == 1.0


def test_quota_missing_everywhere_means_the_type_is_not_offered(quotas, quota_of):
    quotas.applied()
    quotas.defaults(quota_of("ml.g5.xlarge", 0))
    found = get_training_quotas(quotas.client, ["ml.g4dn.xlarge", "ml.p2.xlarge", "ml.g5.xlarge"])
    # The one code known without a listing is still offered for the increase command.
    assert found["ml.g4dn.xlarge"] == InstanceQuota("ml.g4dn.xlarge", None, "L-3F53BF0F", "missing")
    assert found["ml.p2.xlarge"] == InstanceQuota("ml.p2.xlarge", None, None, "missing")


def q(instance_type, value, code="L-CODE", source="applied"):
    return InstanceQuota(instance_type, value, code, source)


def test_no_quota_error_lists_each_type_and_how_to_request_an_increase():
    found = {
        "ml.g4dn.xlarge": q("ml.g4dn.xlarge", 0, "L-3F53BF0F", "default"),
        "ml.g5.xlarge": q("ml.g5.xlarge", 1, "L-G5XLARGE"),
        "ml.p2.xlarge": q("ml.p2.xlarge", None, None, "missing"),
    }
    message = str(
        NoGpuQuotaError(
            found,
            {"ml.g5.xlarge": 1},
            ["ml.g4dn.xlarge", "ml.g5.xlarge", "ml.p2.xlarge"],
            region="eu-west-1",
        )
    )
    assert "ml.g4dn.xlarge: quota 0 (AWS default, L-3F53BF0F), 0 in use" in message
    assert "ml.g5.xlarge: quota 1 (applied, L-G5XLARGE), 1 in use" in message
    assert "ml.p2.xlarge: no quota 'ml.p2.xlarge for training job usage' in this region" in message
    assert (
        "https://eu-west-1.console.aws.amazon.com/servicequotas/home/services/sagemaker/quotas/L-3F53BF0F"
        in message
    )
    assert (
        "aws service-quotas request-service-quota-increase --service-code sagemaker "
        "--quota-code L-3F53BF0F --desired-value 1 --region eu-west-1"
    ) in message
    # At quota 1 with one job running, 1 would change nothing: ask for 2.
    assert "--quota-code L-G5XLARGE --desired-value 2" in message


def test_no_quota_error_when_no_type_is_offered_says_to_choose_others():
    found = {"ml.p2.xlarge": q("ml.p2.xlarge", None, None, "missing")}
    assert "None of these instance types is offered" in str(
        NoGpuQuotaError(found, {}, ["ml.p2.xlarge"])
    )


def test_no_quota_error_for_a_multi_instance_spot_job_asks_for_enough():
    spot = Capacity("ml.g4dn.xlarge", True)
    found = {spot: InstanceQuota("ml.g4dn.xlarge", 2, "L-SPOT", "applied", spot=True)}
    message = str(
        NoGpuQuotaError(found, {spot: 1}, [spot], needed=2, waited="The run waited 60 minutes.")
    )
    assert "Each job needs 2 instances of one type." in message
    assert "The run waited 60 minutes." in message
    assert "ml.g4dn.xlarge spot: quota 2 (applied, L-SPOT), 1 in use" in message
    assert "Request 'ml.g4dn.xlarge for spot training job usage' = 3:" in message


def test_usage_counts_instances_of_in_progress_jobs_across_pages(sagemaker_stub, job_description):
    sagemaker_stub.page(
        job_description("a", "ml.g4dn.xlarge"),
        job_description("b", "ml.g4dn.xlarge", count=2),
        next_token="next",
    )
    sagemaker_stub.page(
        job_description("c", None, groups=[("ml.g5.xlarge", 1), ("ml.g4dn.xlarge", 1)]),
        # Finished between the list and the describe: its instances are free again.
        job_description("d", "ml.g5.xlarge", status="Completed"),
        token="next",
    )
    assert get_training_usage(sagemaker_stub.client) == {"ml.g4dn.xlarge": 4, "ml.g5.xlarge": 1}


def test_usage_keeps_spot_and_on_demand_instances_apart(sagemaker_stub, job_description):
    spot_job = {
        **job_description("s", "ml.g4dn.xlarge", count=2),
        "EnableManagedSpotTraining": True,
    }
    sagemaker_stub.page(job_description("a", "ml.g4dn.xlarge"), spot_job)
    assert count_instances_in_use(sagemaker_stub.client) == {
        Capacity("ml.g4dn.xlarge", False): 1,
        Capacity("ml.g4dn.xlarge", True): 2,
    }


def test_usage_ignores_jobs_that_are_not_in_progress(aws):
    sagemaker = boto3.client("sagemaker")
    # moto completes jobs at once.
    sagemaker.create_training_job(
        TrainingJobName="done",
        AlgorithmSpecification={
            "TrainingImage": "image-classification:1",
            "TrainingInputMode": "File",
        },
        RoleArn="arn:aws:iam::123456789012:role/training",
        OutputDataConfig={"S3OutputPath": "s3://bucket/output"},
        ResourceConfig={"InstanceType": "ml.g4dn.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 50},
        StoppingCondition={"MaxRuntimeInSeconds": 1800},
    )
    assert get_training_usage(sagemaker) == {}


def test_open_requests_are_pending_or_case_opened(quotas):
    quotas.history("L-3F53BF0F", "DENIED", "CASE_OPENED", "APPROVED", "PENDING", "CASE_CLOSED")
    assert [r["Status"] for r in open_increase_requests(quotas.client, "L-3F53BF0F")] == [
        "CASE_OPENED",
        "PENDING",
    ]


def test_request_increase_asks_for_one_instance(quotas):
    quotas.expect_request("L-3F53BF0F", request_id="req-1")
    assert request_increase(quotas.client, "L-3F53BF0F")["Id"] == "req-1"
