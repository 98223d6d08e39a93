"""`status`: one row per account and region, read with that account's credentials.

Stack status and outputs (bucket, preflight instance type and quotas, dashboard) from
CloudFormation, the last packaging build from CodeBuild, the last training run from Step Functions.
An account that cannot be read gets its reason instead of values; the others are still shown.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from stacks.config.targets import Target

from .credentials import session, unreachable_reason

READY = ("CREATE_COMPLETE", "UPDATE_COMPLETE")
COLUMNS = (
    ("account", "ACCOUNT"),
    ("region", "REGION"),
    ("stack_status", "STACK"),
    ("bucket", "BUCKET"),
    ("instance_type", "INSTANCE TYPE"),
    ("quotas", "QUOTAS"),
    ("last_build", "LAST BUILD"),
    ("last_training", "LAST TRAINING"),
    ("dashboard", "DASHBOARD"),
)
# A line of the preflight's Summary output: "ml.g5.xlarge: quota 1 (applied, L-...), 0 in use ...".
_QUOTA_LINE = re.compile(r"^ml\.(?P<type>\S+): quota (?P<value>\S+)")
_NO_QUOTA_LINE = re.compile(r"^ml\.(?P<type>\S+): no quota")
_RECENT = 20


@dataclass
class Row:
    account: str
    region: str
    stack_status: str = "-"
    bucket: str = "-"
    instance_type: str = "-"
    quotas: str = "-"
    last_build: str = "-"
    last_training: str = "-"
    dashboard: str = "-"
    problem: str | None = None  # why the account could not be read
    notes: list[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return self.problem is None and self.stack_status in READY


def read_all(targets: Sequence[Target], concurrency: int) -> list[Row]:
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        return list(pool.map(read, targets))


def read(target: Target) -> Row:
    row = Row(target.account or "?", target.region or "?")
    try:
        aws = session(target)
        if not (target.region or aws.region_name):
            row.problem = "no region: set AWS_REGION or the profile's region"
            return row
        row.region = target.region or aws.region_name
        identity = aws.client("sts", region_name=row.region).get_caller_identity()
        row.account = target.account or identity["Account"]
        if identity["Account"] != row.account:
            row.problem = f"credentials are for account {identity['Account']}, not {row.account}"
            return row
        stack = _stack(aws.client("cloudformation", region_name=row.region), target.stack_name)
    except (BotoCoreError, ClientError) as error:
        row.problem = unreachable_reason(error, target)
        return row
    if stack is None:
        row.problem = f"no stack {target.stack_name} (not deployed here)"
        return row
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    row.stack_status = stack["StackStatus"]
    row.bucket = outputs.get("BucketName", "-")
    row.instance_type = outputs.get("PreflightInstanceType", "-")
    row.quotas = quota_summary(outputs.get("PreflightSummary", ""))
    row.dashboard = outputs.get("DashboardUrl", "-")
    row.last_build = _cell(
        lambda: _last_build(aws.client("codebuild", region_name=row.region), outputs), target
    )
    row.last_training = _cell(
        lambda: _last_run(aws.client("stepfunctions", region_name=row.region), outputs), target
    )
    return row


def _stack(cloudformation: Any, name: str) -> dict[str, Any] | None:
    try:
        return cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    except ClientError as error:
        if "does not exist" in error.response.get("Error", {}).get("Message", ""):
            return None
        raise


def _cell(read_value: Callable[[], str], target: Target) -> str:
    """One value of a readable account; a refusal shows in its cell, not for the whole row."""
    try:
        return read_value()
    except (BotoCoreError, ClientError) as error:
        return f"? {unreachable_reason(error, target)}"


def _last_build(codebuild: Any, outputs: Mapping[str, str]) -> str:
    project = outputs.get("PackagingProjectName")
    if not project:
        return "-"
    ids = codebuild.list_builds_for_project(projectName=project, sortOrder="DESCENDING")["ids"]
    if not ids:
        return "none yet"
    # Newest first from AWS; the latest start among the first few holds whatever the order.
    builds = codebuild.batch_get_builds(ids=ids[:_RECENT])["builds"]
    build = max(builds, key=lambda b: b["startTime"])
    return f"{build['buildStatus']} {when(build.get('endTime') or build.get('startTime'))}"


def _last_run(stepfunctions: Any, outputs: Mapping[str, str]) -> str:
    machine = outputs.get("TrainingStateMachineArn")
    if not machine:
        return "-"
    executions = stepfunctions.list_executions(stateMachineArn=machine)["executions"]
    if not executions:
        return "none yet"
    latest = max(executions, key=lambda e: e["startDate"])
    return f"{latest['status']} {when(latest.get('stopDate') or latest['startDate'])}"


def when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%MZ") if moment else "-"


def quota_summary(summary: str) -> str:
    """The preflight's Summary in one cell: `g5.xlarge=1 g4dn.xlarge=0 p2.xlarge=n/a`."""
    cells = []
    for line in summary.splitlines():
        if found := _QUOTA_LINE.match(line):
            cells.append(f"{found['type']}={found['value']}")
        elif found := _NO_QUOTA_LINE.match(line):
            cells.append(f"{found['type']}=n/a")
    if cells:
        return " ".join(cells)
    first = summary.strip().splitlines()[0] if summary.strip() else "-"
    return first


def table(rows: Sequence[Row]) -> str:
    """Aligned columns; an unreadable account shows its reason after account and region."""
    header = [title for _, title in COLUMNS]
    body = []
    for row in rows:
        if row.problem is not None:
            body.append([row.account, row.region, f"UNREADABLE: {row.problem}"])
        else:
            body.append([str(getattr(row, name)) for name, _ in COLUMNS])
    widths = [len(title) for title in header]
    for cells in body:
        if len(cells) == len(header):
            widths = [max(w, len(c)) for w, c in zip(widths, cells, strict=True)]
    lines = [_line(header, widths)]
    lines += [_line(cells, widths) for cells in body]
    return "\n".join(lines)


def _line(cells: Sequence[str], widths: Sequence[int]) -> str:
    padded = [cell.ljust(width) for cell, width in zip(cells, widths, strict=False)]
    return "  ".join(padded + list(cells[len(widths) :])).rstrip()
