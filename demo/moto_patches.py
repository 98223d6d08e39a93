"""Two gaps of moto 5.2.5 that the executed state machine tests, the teardown tests and the demo
fill, applied in whichever process runs moto (`apply()` is idempotent):

- SendTaskFailure drops its `cause` (responses.py passes only `error` on). The real `.sync` task's
  failure carries the job description, FailureReason included, in the cause, and the Choose step
  classifies by it, so the cause is passed through as AWS does.
- StopTrainingJob is not implemented. Here it moves an InProgress job to Stopping (it has left
  InProgress, which is what teardown waits for); `STICKY_JOBS` lists jobs that ignore it, to test
  the bounded wait. A job in any other status is refused, as SageMaker refuses it.
"""

from __future__ import annotations

import re
from typing import Any

from moto.core.responses import EmptyResult
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import FakeTrainingJob
from moto.sagemaker.responses import SageMakerResponse
from moto.stepfunctions.responses import StepFunctionResponse

# Names of training jobs that stay InProgress whatever StopTrainingJob says.
STICKY_JOBS: set[str] = set()


def _send_task_failure(self: StepFunctionResponse) -> EmptyResult:
    self.stepfunction_backend.send_task_failure(
        self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause")
    )
    return EmptyResult()


def _stop_training_job(self: SageMakerResponse) -> EmptyResult:
    name = self._get_param("TrainingJobName")
    jobs: dict[str, FakeTrainingJob] = self.sagemaker_backend.training_jobs
    job = jobs.get(name)
    if job is None:
        raise ValidationError(message=f"Requested resource not found: training job {name}")
    if job.training_job_status != "InProgress":
        raise ValidationError(
            message=f"The request was rejected because the training job is in status "
            f"{job.training_job_status}."
        )
    if name not in STICKY_JOBS:
        job.training_job_status = "Stopping"
        job.secondary_status = "Stopping"
    return EmptyResult()


def apply() -> None:
    StepFunctionResponse.send_task_failure = _send_task_failure  # type: ignore[method-assign]
    SageMakerResponse.stop_training_job = _stop_training_job  # type: ignore[attr-defined]


def set_job_status(
    name: str,
    status: str,
    *,
    account: str = "123456789012",
    region: str = "us-east-1",
    **fields: Any,
) -> None:
    """Put an in-process moto training job in a status (moto completes every job at once);
    `fields` are DescribeTrainingJob's names (FailureReason, BillableTimeInSeconds, ...)."""
    from moto.sagemaker.models import sagemaker_backends

    job = sagemaker_backends[account][region].training_jobs[name]
    job.training_job_status = status
    job.secondary_status = fields.pop("SecondaryStatus", status)
    for key, value in fields.items():
        # moto renders attribute foo_bar_baz as FooBarBaz.
        setattr(job, re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower(), value)
