"""The security gates of the synthesized stacks, on the workshop template too: checkov with the
same justified skips, no wildcard actions, no managed policies of ours, bucket access scoped to
prefixes (the one bucket-level addition: the removal handler deletes the emptied bucket)."""

from __future__ import annotations

import pytest

from ..conftest import as_list, resources_of_type
from ..test_security_gates import CHECKOV, CHECKOV_SKIPS, checkov_report, our_statements

BUCKET_ARN = "<StorageBucket5CB7C8EA.Arn>"


def test_checkov_passes_with_only_the_stacks_justified_skips(workshop_bundle):
    if not CHECKOV.exists():
        pytest.fail("checkov is missing: `make setup` installs it into .venv/checkov")
    report = checkov_report(workshop_bundle.template_path)
    failed = [
        (c["check_id"], c["resource"]) for c in report.get("results", {}).get("failed_checks", [])
    ]
    assert failed == []
    assert report["summary"]["passed"] > 100
    assert CHECKOV_SKIPS


def test_no_wildcard_action_and_no_managed_policy_of_ours(workshop_bundle):
    template = workshop_bundle.template
    statements = our_statements(template)
    assert len(statements) > 20
    assert not [
        action for _, s in statements for action in as_list(s.get("Action", [])) if "*" in action
    ]
    for logical_id, role in resources_of_type(template, "AWS::IAM::Role").items():
        if logical_id.startswith(("CustomS3AutoDeleteObjects", "BucketNotificationsHandler")):
            continue
        assert not role["Properties"].get("ManagedPolicyArns"), logical_id


def test_bucket_level_actions_are_listing_locating_and_the_removal(workshop_bundle):
    bucket_level = {}
    for logical_id, statement in our_statements(workshop_bundle.template):
        if BUCKET_ARN in as_list(statement.get("Resource", [])):
            bucket_level.setdefault(logical_id, set()).update(as_list(statement["Action"]))
    removal = {k: v for k, v in bucket_level.items() if k.startswith("StorageRemovalRole")}
    assert list(removal.values()) == [{"s3:DeleteBucket"}]
    others = set().union(*(v for k, v in bucket_level.items() if k not in removal))
    assert others <= {"s3:ListBucket", "s3:GetBucketLocation"}
