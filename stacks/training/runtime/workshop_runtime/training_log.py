"""Per-epoch metrics from the Image Classification algorithm's training log.

The algorithm logs, per epoch (CloudWatch Logs, or copied from the console with a time in front):

    [07/14/2020 22:20:42 INFO 140558353856320] Epoch[0] Train-accuracy=0.150391
    [07/14/2020 22:20:42 INFO 140558353856320] Epoch[0] Train-top_k_accuracy_2=0.273438
    [07/14/2020 22:20:42 INFO 140558353856320] Epoch[0] Time cost=8.095
    [07/14/2020 22:20:43 INFO 140558353856320] Epoch[0] Validation-accuracy=0.253906
    [07/14/2020 22:20:43 INFO 140558353856320] Epoch[0] Validation-top_k_accuracy_2=0.468750

MXNet's per-batch progress lines (`Epoch[0] Batch [20]\tSpeed: ... samples/sec\taccuracy=...`) are
running averages inside an epoch and are ignored. Pure: no AWS calls, also used by the instructor's
results command.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

__all__ = ["parse_training_log"]

# "Epoch[N]" directly followed by the metric: a "Batch [..]" in between marks a progress line.
_METRIC = re.compile(
    r"Epoch\[(?P<epoch>\d+)\]\s+(?P<phase>Train|Validation)-(?P<name>[A-Za-z0-9_\-]+)="
    r"(?P<value>[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|nan|inf))",
    re.IGNORECASE,
)
_TIME_COST = re.compile(r"Epoch\[(?P<epoch>\d+)\]\s+Time cost=(?P<value>\d+(?:\.\d*)?)")


def _field(phase: str, name: str) -> str:
    # "Train-top_k_accuracy_2" -> "train_top_k_accuracy_2"; "cross-entropy" -> "cross_entropy".
    return f"{phase.lower()}_{name.replace('-', '_').lower()}"


def _number(text: str) -> float | None:
    value = float(text)
    # NaN/inf are not JSON: Step Functions and json.dumps(allow_nan=False) refuse them.
    return value if math.isfinite(value) else None


def _new_row(epoch: int, run: int) -> dict:
    return {
        "epoch": epoch,
        "train_accuracy": None,
        "validation_accuracy": None,
        "time_cost": None,
        "run": run,
    }


def parse_training_log(lines: Iterable[str]) -> list[dict]:
    """One dict per epoch, in epoch order, from the log lines of one training host.

    Each dict has `epoch`, `train_accuracy`, `validation_accuracy`, `time_cost` (seconds), `run`,
    plus `train_top_k_accuracy_K`/`validation_top_k_accuracy_K` (and any other Train-/Validation-
    metric) when logged. A metric not logged yet (an epoch still running) is None.

    A job restarted on a new instance (spot interruption, retried job) starts again at a lower
    epoch; only the last run is returned and `run` counts the runs seen (1 = no restart).
    """
    run = 1
    rows: dict[int, dict] = {}
    logged: dict[int, set[str]] = {}
    last_epoch = -1
    for chunk in lines:
        # One CloudWatch event may hold several lines.
        for line in str(chunk).splitlines():
            match = _METRIC.search(line)
            if match:
                epoch = int(match["epoch"])
                field = _field(match["phase"], match["name"])
                value = _number(match["value"])
            else:
                match = _TIME_COST.search(line)
                if not match:
                    continue
                epoch = int(match["epoch"])
                field = "time_cost"
                value = _number(match["value"])

            # Going back in epochs, or a metric logged twice for one epoch, means a new run.
            if epoch < last_epoch or field in logged.get(epoch, ()):
                run += 1
                rows = {}
                logged = {}
            if epoch not in rows:
                rows[epoch] = _new_row(epoch, run)
                logged[epoch] = set()
            rows[epoch][field] = value
            logged[epoch].add(field)
            last_epoch = epoch
    for row in rows.values():
        row["run"] = run
    return [rows[epoch] for epoch in sorted(rows)]
