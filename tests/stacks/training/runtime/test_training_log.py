import json

from stacks.training.runtime.workshop_runtime.training_log import parse_training_log

# Lines in the format the algorithm writes to CloudWatch Logs (one log event per line).
HEADER = [
    "[11/21/2026 12:20:18 INFO 140558353856320] Final configuration: {u'top_k': u'2', u'epochs': u'3'}",
    "[11/21/2026 12:20:22 INFO 140558353856320] ---- Parameters ----",
    "[12:20:34] /opt/brazil-pkg-cache/packages/AIAlgorithmsMXNet/src/operator/nn/cudnn_algoreg-inl.h:97: "
    "Running performance tests to find the best convolution algorithm",
]


def epoch_lines(epoch, train, top_k, seconds, validation, validation_top_k=None):
    prefix = "[11/21/2026 12:20:42 INFO 140558353856320]"
    lines = [
        f"{prefix} Epoch[{epoch}] Batch [20]\tSpeed: 111.78 samples/sec\taccuracy=0.297619",
        f"{prefix} Epoch[{epoch}] Batch [40]\tSpeed: 112.02 samples/sec\taccuracy=0.311012",
        f"{prefix} Epoch[{epoch}] Train-accuracy={train:f}",
    ]
    if top_k is not None:
        lines.append(f"{prefix} Epoch[{epoch}] Train-top_k_accuracy_2={top_k:f}")
    lines.append(f"{prefix} Epoch[{epoch}] Time cost={seconds:.3f}")
    if validation is not None:
        lines.append(f"{prefix} Epoch[{epoch}] Validation-accuracy={validation:f}")
        lines.append(f"{prefix} Storing the best model with validation accuracy: {validation:f}")
        lines.append(
            f'{prefix} Saved checkpoint to "/opt/ml/model/image-classification-{epoch + 1:04d}.params"'
        )
    if validation_top_k is not None:
        lines.append(f"{prefix} Epoch[{epoch}] Validation-top_k_accuracy_2={validation_top_k:f}")
    return lines


def test_complete_log_gives_one_row_per_epoch_and_ignores_batch_lines():
    lines = (
        HEADER
        + epoch_lines(0, 0.15, None, 8.095, 0.302083)
        + epoch_lines(1, 0.64, None, 3.071, 0.55)
    )
    assert parse_training_log(lines) == [
        {
            "epoch": 0,
            "train_accuracy": 0.15,
            "validation_accuracy": 0.302083,
            "time_cost": 8.095,
            "run": 1,
        },
        {
            "epoch": 1,
            "train_accuracy": 0.64,
            "validation_accuracy": 0.55,
            "time_cost": 3.071,
            "run": 1,
        },
    ]


def test_top_k_accuracies_are_kept_per_phase():
    rows = parse_training_log(epoch_lines(0, 0.766026, 0.932692, 3.071, 0.875, 0.96875))
    assert rows[0]["train_top_k_accuracy_2"] == 0.932692
    assert rows[0]["validation_top_k_accuracy_2"] == 0.96875


def test_partial_log_leaves_the_running_epoch_without_validation():
    lines = epoch_lines(0, 0.2, 0.4, 8.0, 0.3) + epoch_lines(1, 0.5, 0.7, 3.0, None)
    last = parse_training_log(lines)[-1]
    assert last == {
        "epoch": 1,
        "train_accuracy": 0.5,
        "validation_accuracy": None,
        "time_cost": 3.0,
        "run": 1,
        "train_top_k_accuracy_2": 0.7,
    }


def test_restarted_job_keeps_only_the_last_run_and_counts_runs():
    first_run = (
        epoch_lines(0, 0.1, None, 8.0, 0.2)
        + epoch_lines(1, 0.3, None, 3.0, 0.4)
        + epoch_lines(2, 0.5, None, 3.0, None)
    )
    second_run = epoch_lines(0, 0.11, None, 9.0, 0.21) + epoch_lines(1, 0.33, None, 3.1, 0.44)
    rows = parse_training_log(HEADER + first_run + HEADER + second_run)
    assert [row["epoch"] for row in rows] == [0, 1]
    assert [row["train_accuracy"] for row in rows] == [0.11, 0.33]
    assert all(row["run"] == 2 for row in rows)


def test_restart_within_the_first_epoch_is_detected_by_a_repeated_metric():
    lines = epoch_lines(0, 0.1, None, 8.0, None) + epoch_lines(0, 0.12, None, 8.5, 0.25)
    rows = parse_training_log(lines)
    assert rows == [
        {
            "epoch": 0,
            "train_accuracy": 0.12,
            "validation_accuracy": 0.25,
            "time_cost": 8.5,
            "run": 2,
        }
    ]


def test_lines_copied_from_the_console_with_a_time_in_front_and_multi_line_events():
    event = (
        "16:14:05 [10/21/2018 16:14:04 INFO 139701434767168] Epoch[18] Train-accuracy=0.766026\n"
        "16:14:05 [10/21/2018 16:14:04 INFO 139701434767168] Epoch[18] Time cost=3.071\n"
        "16:14:06 [10/21/2018 16:14:05 INFO 139701434767168] Epoch[18] Validation-accuracy=0.875000"
    )
    assert parse_training_log([event]) == [
        {
            "epoch": 18,
            "train_accuracy": 0.766026,
            "validation_accuracy": 0.875,
            "time_cost": 3.071,
            "run": 1,
        }
    ]


def test_old_mxnet_batch_lines_with_train_metrics_are_not_epoch_results():
    lines = ["INFO:root:Epoch[73] Batch [500]\tSpeed: 1694.57 samples/sec\tTrain-accuracy=0.584035"]
    assert parse_training_log(lines) == []


def test_nan_metrics_become_none_so_the_result_stays_json():
    rows = parse_training_log(
        ["[x] Epoch[0] Train-accuracy=nan", "[x] Epoch[0] Validation-accuracy=0.5"]
    )
    assert rows[0]["train_accuracy"] is None
    json.dumps(rows, allow_nan=False)


def test_no_epoch_lines_gives_an_empty_table():
    assert parse_training_log(HEADER) == []
