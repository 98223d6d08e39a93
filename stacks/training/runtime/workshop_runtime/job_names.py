"""Training job names: one run id per execution, one job name per attempt, and the pattern that
tells this stack's jobs from every other job in the account.

A run's first job is named by its run id, `<prefix>-YYYYMMDD-HHMMSS-xxxx`; attempt n > 1 appends
`-n`. Teardown stops only names matching `own_job_pattern(prefix)` exactly, so a stack whose prefix
merely starts like this one's (`birds` and `birds-2`) is never touched.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime

__all__ = ["MAX_ATTEMPTS", "attempt_job_name", "make_job_name", "own_job_pattern"]

# Attempt numbers up to two digits keep `<39-character prefix>-YYYYMMDD-HHMMSS-xxxx-nn` within 63.
MAX_ATTEMPTS = 20
_JOB_NAME_MAX = 63
_RUN_ID_SUFFIX_LENGTH = len("-20261121-120000-abcd")


def make_job_name(prefix: str, now: datetime, suffix: str | None = None) -> str:
    """`<prefix>-YYYYMMDD-HHMMSS-xxxx`, a valid SageMaker name of at most 63 characters."""
    cleaned = re.sub(r"[^a-zA-Z0-9-]+", "-", prefix).strip("-")
    cleaned = cleaned[: _JOB_NAME_MAX - _RUN_ID_SUFFIX_LENGTH].rstrip("-") or "training"
    suffix = suffix if suffix is not None else secrets.token_hex(2)
    return f"{cleaned}-{now:%Y%m%d-%H%M%S}-{suffix}"


def attempt_job_name(run_id: str, attempt: int) -> str:
    """The job of attempt `attempt` (1-based): a new name each time, as SageMaker requires."""
    if not 1 <= attempt <= MAX_ATTEMPTS:
        raise ValueError(f"attempt {attempt} is outside 1..{MAX_ATTEMPTS}")
    return run_id if attempt == 1 else f"{run_id}-{attempt}"


def own_job_pattern(prefix: str) -> re.Pattern[str]:
    """Exactly the names this stack's runs give their jobs (see the module docstring)."""
    return re.compile(rf"{re.escape(prefix)}-[0-9]{{8}}-[0-9]{{6}}-[0-9a-f]{{4}}(-[1-9][0-9]?)?")
