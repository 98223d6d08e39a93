"""`classroom status` as a user runs it, against emulated accounts: one moto server per account
(MOTO_ACCOUNT_ID), each AWS CLI profile pointing at its account's server through `endpoint_url` in
an AWS config file, so classroom reads them exactly as it reads AWS. Two accounts have the stack
(deployed from the synthesized multi-account templates with tests/fidelity/deploy.py), one a
packaging build and training runs; the others cannot be read, each for its own reason.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import boto3
import pytest

from classroom.status import quota_summary, table, when
from demo.emulator import Emulator, free_port
from stacks.app import create_app
from stacks.config.context import cdk_json_context
from tests.fidelity.cfn import Template
from tests.fidelity.deploy import deploy

REPO = Path(__file__).resolve().parents[2]
STACKED = {
    "class-a": ("111111111111", "eu-west-1"),
    "class-b": ("222222222222", "us-west-2"),
}
SUMMARY = (
    "ml.g4dn.xlarge: quota 0 (AWS default, L-3F53BF0F), 0 in use by running training jobs\n"
    "ml.g5.xlarge: quota 1 (applied, L-12345678), 0 in use by running training jobs\n"
    "ml.p2.xlarge: no quota 'ml.p2.xlarge for training job usage' in this region (the instance "
    "type is not offered for training here)"
)
ACCOUNTS = [
    {"account": "111111111111", "region": "eu-west-1", "profile": "class-a"},
    {"account": "222222222222", "region": "us-west-2", "profile": "class-b"},
    {"account": "333333333333", "region": "us-east-1", "profile": "class-c"},  # no stack
    {"account": "444444444444", "region": "eu-west-1", "profile": "class-d"},  # no credentials
    {"account": "555555555555", "region": "eu-west-1", "profile": "class-e"},  # access denied
    {"account": "666666666666", "region": "eu-west-1", "profile": "class-f"},  # unreachable
    {"account": "777777777777", "region": "us-east-1", "profile": "class-g"},  # wrong account
    {"account": "888888888888", "region": "us-east-1", "profile": "class-h"},  # no such profile
]


def client(endpoint, service, region, key="testing", secret="testing"):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
    )


def synthesized(outdir: Path) -> dict[str, tuple[Path, Template]]:
    """The app with the stacked accounts, as `make deploy` synthesizes it."""
    environments = [{"account": a, "region": r} for a, r in STACKED.values()]
    app = create_app(
        {**cdk_json_context(), "workshop.accounts": json.dumps(environments)}, outdir=str(outdir)
    )
    assembly = app.synth()
    return {
        stack.environment.account: (
            outdir,
            Template.load(
                outdir / stack.template_file,
                stack_name=stack.stack_name,
                account=stack.environment.account,
                region=stack.environment.region,
            ),
        )
        for stack in assembly.stacks
    }


def preflight_answer(logical_id, resource):
    if resource["Type"] == "Custom::GpuQuotaPreflight":
        return {"Data": {"InstanceType": "ml.g5.xlarge", "Summary": SUMMARY}}
    return {}


@pytest.fixture(scope="module")
def accounts(tmp_path_factory):
    """Servers, stacks, a build and runs in account A, and the AWS config naming them."""
    work = tmp_path_factory.mktemp("accounts")
    servers = {
        "class-a": Emulator(settings={"MOTO_ACCOUNT_ID": "111111111111"}),
        "class-b": Emulator(settings={"MOTO_ACCOUNT_ID": "222222222222"}),
        "class-c": Emulator(settings={"MOTO_ACCOUNT_ID": "333333333333"}),
        # IAM enforced after the two setup calls below.
        "class-e": Emulator(
            settings={"MOTO_ACCOUNT_ID": "555555555555", "INITIAL_NO_AUTH_ACTION_COUNT": "2"}
        ),
    }
    for server in servers.values():
        server.start()
    try:
        templates = synthesized(work / "cdk.out")
        activity = {}
        for profile, (account, region) in STACKED.items():
            endpoint = servers[profile].endpoint
            assembly, template = templates[account]
            stack, _ = deploy(
                lambda service, e=endpoint, r=region: client(e, service, r),
                endpoint,
                template,
                assembly,
                preflight_answer,
            )
            assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
            activity[profile] = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
            create_build_project(
                endpoint, account, region, activity[profile]["PackagingProjectName"]
            )
        activity["class-a"].update(busy_account(servers["class-a"].endpoint, activity["class-a"]))
        iam = client(servers["class-e"].endpoint, "iam", "eu-west-1")
        iam.create_user(UserName="student")
        key = iam.create_access_key(UserName="student")["AccessKey"]
        config = work / "aws-config"
        config.write_text(
            aws_config(servers, key["AccessKeyId"], key["SecretAccessKey"], free_port())
        )
        yield config, activity
    finally:
        for server in servers.values():
            server.stop()


def create_build_project(endpoint: str, account: str, region: str, name: str) -> None:
    """The emulator's CloudFormation skips CodeBuild projects: the stack's is made here, by name."""
    client(endpoint, "codebuild", region).create_project(
        name=name,
        source={"type": "S3", "location": "assets/recpack-source.zip"},
        artifacts={"type": "NO_ARTIFACTS"},
        environment={
            "type": "LINUX_CONTAINER",
            "image": "aws/codebuild/standard:7.0",
            "computeType": "BUILD_GENERAL1_SMALL",
        },
        serviceRole=f"arn:aws:iam::{account}:role/build",
    )


def busy_account(endpoint: str, outputs: dict[str, str]) -> dict:
    """Two packaging builds and two training runs; returns what status must show as the last."""
    codebuild = client(endpoint, "codebuild", "eu-west-1")
    for _ in range(2):
        codebuild.start_build(projectName=outputs["PackagingProjectName"])
    ids = codebuild.list_builds_for_project(projectName=outputs["PackagingProjectName"])["ids"]
    builds = codebuild.batch_get_builds(ids=ids)["builds"]
    last_build = max(builds, key=lambda b: b["startTime"])
    # The emulator finishes a build when it is described, 1 to 5 minutes after its start.
    finished = [
        f"{last_build['buildStatus']} {when(last_build['startTime'] + timedelta(minutes=m))}"
        for m in range(1, 6)
    ]
    stepfunctions = client(endpoint, "stepfunctions", "eu-west-1")
    for name in ("first-run", "second-run"):
        stepfunctions.start_execution(
            stateMachineArn=outputs["TrainingStateMachineArn"], name=name, input="{}"
        )
    executions = stepfunctions.list_executions(stateMachineArn=outputs["TrainingStateMachineArn"])
    last_run = max(executions["executions"], key=lambda e: e["startDate"])
    return {
        "last build": finished,
        "last run": f"{last_run['status']} {when(last_run['startDate'])}",
    }


def aws_config(servers, denied_key, denied_secret, closed_port) -> str:
    def profile(name, region, endpoint=None, key="testing", secret="testing"):
        lines = [f"[profile {name}]"] + ([f"region = {region}"] if region else [])
        if endpoint:
            lines.append(f"endpoint_url = {endpoint}")
        if key:
            lines += [f"aws_access_key_id = {key}", f"aws_secret_access_key = {secret}"]
        return "\n".join(lines) + "\n"

    return "\n".join(
        [
            profile("class-a", "eu-west-1", servers["class-a"].endpoint),
            profile("class-b", "us-west-2", servers["class-b"].endpoint),
            profile("class-c", "us-east-1", servers["class-c"].endpoint),
            profile("class-d", "eu-west-1", servers["class-c"].endpoint, key=None),
            profile("class-e", "eu-west-1", servers["class-e"].endpoint, denied_key, denied_secret),
            profile("class-f", "eu-west-1", f"http://127.0.0.1:{closed_port}"),
            profile("class-g", "us-east-1", servers["class-a"].endpoint),
            # No region: AWS_REGION gives it, as for the CDK CLI that deployed the stack.
            profile("class-i", None, servers["class-b"].endpoint),
        ]
    )


def status(config: Path, accounts, profile=None, region=None):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    environment.update(
        AWS_CONFIG_FILE=str(config),
        AWS_SHARED_CREDENTIALS_FILE=str(config.with_name("no-credentials-file")),
        # No instance metadata to fall back on: "no credentials" must not wait for it.
        AWS_EC2_METADATA_DISABLED="true",
    )
    if profile:
        environment["AWS_PROFILE"] = profile
    if region:
        environment["AWS_REGION"] = region
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "classroom",
            "status",
            "-c",
            f"workshop.accounts={json.dumps(accounts)}",
        ],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def table_run(accounts):
    config, activity = accounts
    completed = status(config, ACCOUNTS)
    rows = {line.split()[0]: line for line in completed.stdout.splitlines()[1:-1]}
    return completed, rows, activity


def test_every_configured_account_has_one_row_in_order(table_run):
    completed, rows, _ = table_run
    assert completed.stdout.splitlines()[0].split()[:3] == ["ACCOUNT", "REGION", "STACK"]
    assert list(rows) == [a["account"] for a in ACCOUNTS]
    for account in ACCOUNTS:
        assert rows[account["account"]].split()[1] == account["region"]


def test_a_ready_account_shows_its_outputs_and_last_activity(table_run):
    _, rows, activity = table_run
    outputs = activity["class-a"]
    row = rows["111111111111"]
    assert " CREATE_COMPLETE " in row
    assert f" {outputs['BucketName']} " in row
    assert " ml.g5.xlarge " in row
    assert " g4dn.xlarge=0 g5.xlarge=1 p2.xlarge=n/a " in row
    assert [cell for cell in activity["class-a"]["last build"] if f" {cell} " in row]
    assert f" {activity['class-a']['last run']} " in row
    assert row.endswith(outputs["DashboardUrl"])
    assert "eu-west-1" in outputs["DashboardUrl"]


def test_an_account_with_nothing_run_yet_says_so(table_run):
    _, rows, activity = table_run
    row = rows["222222222222"]
    assert " CREATE_COMPLETE " in row and f" {activity['class-b']['BucketName']} " in row
    assert row.count("none yet") == 2
    assert "us-west-2" in row.split()[-1]  # its own region's dashboard


@pytest.mark.parametrize(
    "account, reason",
    [
        ("333333333333", "UNREADABLE: no stack BirdsWorkshop (not deployed here)"),
        ("444444444444", "UNREADABLE: no credentials (profile class-d)"),
        ("555555555555", "UNREADABLE: access denied (profile class-e): "),
        ("666666666666", "UNREADABLE: cannot reach AWS (profile class-f): "),
        (
            "777777777777",
            "UNREADABLE: credentials are for account 111111111111, not 777777777777",
        ),
        ("888888888888", "UNREADABLE: no profile class-h in the AWS config"),
    ],
)
def test_an_unreadable_account_is_named_with_its_reason(table_run, account, reason):
    _, rows, _ = table_run
    assert reason in rows[account]
    assert len(rows[account].splitlines()) == 1


def test_the_table_is_printed_whole_and_the_exit_says_not_all_ready(table_run):
    completed, _, _ = table_run
    assert completed.returncode == 1
    assert completed.stdout.splitlines()[-1] == "6 of 8 account(s) not ready"
    assert completed.stderr == ""


def test_all_ready_exits_zero(accounts):
    config, _ = accounts
    completed = status(config, ACCOUNTS[:2])
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert completed.stdout.splitlines()[-1] == "all 2 account(s) ready"


def test_no_accounts_reads_the_current_account_and_region(accounts):
    config, activity = accounts
    completed = status(config, [], profile="class-b")
    lines = completed.stdout.splitlines()
    assert len(lines) == 3, completed.stdout + completed.stderr
    assert lines[1].split()[:3] == ["222222222222", "us-west-2", "CREATE_COMPLETE"]
    assert activity["class-b"]["BucketName"] in lines[1]


def test_aws_region_gives_the_region_a_profile_leaves_out(accounts):
    # The CDK CLI deploys to AWS_REGION; botocore alone reads only AWS_DEFAULT_REGION.
    config, activity = accounts
    completed = status(config, [], profile="class-i", region="us-west-2")
    lines = completed.stdout.splitlines()
    assert lines[1].split()[:3] == ["222222222222", "us-west-2", "CREATE_COMPLETE"], (
        completed.stdout
    )
    assert activity["class-b"]["BucketName"] in lines[1]


def test_quota_summary_compacts_the_preflight_lines():
    assert quota_summary(SUMMARY) == "g4dn.xlarge=0 g5.xlarge=1 p2.xlarge=n/a"
    assert quota_summary("Could not read SageMaker training quotas: AccessDenied: no") == (
        "Could not read SageMaker training quotas: AccessDenied: no"
    )
    assert quota_summary("") == "-"


def test_table_aligns_readable_rows_and_keeps_reasons_whole():
    from classroom.status import Row

    rows = [
        Row(
            "111111111111", "eu-west-1", "CREATE_COMPLETE", "b", "ml.g5.xlarge", "q", "x", "y", "u"
        ),
        Row("222222222222", "us-west-2", problem="no credentials"),
    ]
    lines = table(rows).splitlines()
    assert lines[0].index("STACK") == lines[1].index("CREATE_COMPLETE")
    assert lines[2].endswith("UNREADABLE: no credentials")
