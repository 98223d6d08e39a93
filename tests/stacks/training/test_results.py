"""The instructor's results command: log lines in the algorithm's real format, read from CloudWatch Logs
(moto in-process, and a real moto_server as the local emulator), from report.json, or from a saved log."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from PIL import Image

from stacks.training import results
from stacks.training.runtime.workshop_runtime import report, training_log
from stacks.training.runtime.workshop_runtime.report import LOG_GROUP, build_report

from ..conftest import algorithm_epoch_lines as epoch_lines

REPO = Path(__file__).resolve().parents[3]
REGION = "us-east-1"
JOB = "birds-20261121-123456-abcd"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


HEADER = [
    "[11/21/2026 12:20:18 INFO 140558353856320] Final configuration: {'epochs': '3', 'top_k': '2'}",
    "[12:20:34] /opt/brazil-pkg-cache/packages/AIAlgorithmsMXNet/src/operator/nn/cudnn_algoreg-inl.h:97: "
    "Running performance tests to find the best convolution algorithm",
]
COMPLETE = (
    HEADER
    + epoch_lines(0, 0.15, 8.095, 0.302083)
    + epoch_lines(1, 0.64, 3.071, 0.55)
    + epoch_lines(2, 0.766026, 3.1, 0.5)
)
COMPLETE_TABLE = [
    "epoch  train acc  val acc  time (s)",
    "    0     0.1500   0.3021       8.1",
    "    1     0.6400   0.5500       3.1",
    "    2     0.7660   0.5000       3.1",
]


def put_job(clients, lines, job=JOB, stream_suffix="algo-1-1763728800"):
    clients["sagemaker"].create_training_job(
        TrainingJobName=job,
        AlgorithmSpecification={
            "TrainingImage": "image-classification:1",
            "TrainingInputMode": "File",
        },
        RoleArn="arn:aws:iam::123456789012:role/training",
        OutputDataConfig={"S3OutputPath": "s3://bucket/output"},
        ResourceConfig={"InstanceType": "ml.g4dn.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 50},
        StoppingCondition={"MaxRuntimeInSeconds": 1800},
    )
    if lines is None:
        return
    logs = clients["logs"]
    try:
        logs.create_log_group(logGroupName=LOG_GROUP)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    stream = f"{job}/{stream_suffix}"
    logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=stream)
    start = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName=LOG_GROUP,
        logStreamName=stream,
        logEvents=[{"timestamp": start + i, "message": line} for i, line in enumerate(lines)],
    )


@pytest.fixture
def aws(monkeypatch):
    for name, value in {**CREDENTIALS, "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield {service: boto3.client(service) for service in ("sagemaker", "logs", "s3")}


def run(capsys, *arguments):
    code = results.main([str(a) for a in arguments])
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err


def assert_png(path):
    assert path.read_bytes()[:8] == PNG_MAGIC
    with Image.open(path) as image:
        assert image.size == (800, 450)


def test_complete_job_from_cloudwatch_prints_the_table_and_writes_the_plot(
    aws, capsys, tmp_path, monkeypatch
):
    monkeypatch.delenv("AWS_DEFAULT_REGION")  # AWS_REGION alone (Lambda, CloudShell) is enough
    put_job(aws, COMPLETE)
    code, out, err = run(capsys, JOB, "--out", tmp_path / "plot.png")
    assert (code, err) == (0, "")
    assert out[0] == f"{JOB} (Completed), from CloudWatch Logs {LOG_GROUP} {JOB}/algo-1-1763728800"
    assert out[1:5] == COMPLETE_TABLE
    assert out[5] == "best validation accuracy 0.5500 at epoch 1"
    assert out[6] == f"plot: {tmp_path / 'plot.png'}"
    assert_png(tmp_path / "plot.png")


def test_top_k_columns_and_the_running_epoch_of_a_partial_log(aws, capsys, tmp_path):
    put_job(
        aws,
        epoch_lines(0, 0.2, 8.0, 0.3, top_k=0.4, validation_top_k=0.5)
        + epoch_lines(1, 0.5, 3.0, None, top_k=0.7),
    )
    code, out, _ = run(capsys, JOB, "--out", tmp_path / "partial.png")
    assert code == 0
    assert out[1:4] == [
        "epoch  train acc  val acc  train top-2  val top-2  time (s)",
        "    0     0.2000   0.3000       0.4000     0.5000       8.0",
        "    1     0.5000        -       0.7000          -       3.0",
    ]
    assert_png(tmp_path / "partial.png")


def test_restarted_job_shows_the_last_run(aws, capsys, tmp_path):
    first = (
        epoch_lines(0, 0.1, 8.0, 0.2)
        + epoch_lines(1, 0.3, 3.0, 0.4)
        + epoch_lines(2, 0.5, 3.0, 0.45)
    )
    second = epoch_lines(0, 0.12, 8.5, 0.25) + epoch_lines(1, 0.35, 3.2, 0.41)
    put_job(aws, first + second)
    code, out, _ = run(capsys, JOB, "--out", tmp_path / "restarted.png")
    assert code == 0
    assert out[1] == "the job restarted: 2 runs in the log, the last one shown"
    assert out[3:5] == [
        "    0     0.1200   0.2500       8.5",
        "    1     0.3500   0.4100       3.2",
    ]
    assert out[5] == "best validation accuracy 0.4100 at epoch 1"


def test_default_plot_goes_under_results_named_after_the_job(aws, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    put_job(aws, COMPLETE)
    code, out, _ = run(capsys, JOB)
    assert code == 0 and out[-1] == f"plot: results/{JOB}-accuracy.png"
    assert_png(tmp_path / "results" / f"{JOB}-accuracy.png")


def test_a_job_arn_reads_the_job_in_the_arns_region(aws, capsys, tmp_path, monkeypatch):
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    put_job(aws, COMPLETE)
    arn = f"arn:aws:sagemaker:{REGION}:123456789012:training-job/{JOB}"
    code, out, _ = run(capsys, arn, "--out", tmp_path / "arn.png")
    assert code == 0 and out[1:5] == COMPLETE_TABLE


def test_report_json_from_the_report_step_gives_the_same_table(aws, capsys, tmp_path):
    epochs = training_log.parse_training_log(COMPLETE)
    written = build_report(JOB, {"TrainingJobStatus": "Completed"}, epochs, [f"{JOB}/algo-1-1"])
    (tmp_path / "report.json").write_text(json.dumps(written, indent=2))
    code, out, _ = run(capsys, tmp_path / "report.json", "--out", tmp_path / "from-report.png")
    assert code == 0
    assert out[0] == f"{JOB} (Completed), from {tmp_path / 'report.json'}"
    assert out[1:5] == COMPLETE_TABLE
    assert_png(tmp_path / "from-report.png")

    aws["s3"].create_bucket(Bucket="workshop")
    aws["s3"].put_object(
        Bucket="workshop", Key=f"output/{JOB}/report.json", Body=json.dumps(written).encode()
    )
    code, out, _ = run(
        capsys, f"s3://workshop/output/{JOB}/report.json", "--out", tmp_path / "s3.png"
    )
    assert code == 0 and out[1:5] == COMPLETE_TABLE


def test_a_log_saved_from_the_console(capsys, tmp_path):
    (tmp_path / "lab2.log").write_text("\n".join(COMPLETE) + "\n")
    code, out, _ = run(capsys, tmp_path / "lab2.log", "--out", tmp_path / "lab2.png")
    assert code == 0 and out[1:5] == COMPLETE_TABLE
    assert_png(tmp_path / "lab2.png")


def test_make_results_target(tmp_path):
    (tmp_path / "lab2.log").write_text("\n".join(COMPLETE) + "\n")
    completed = subprocess.run(  # -o setup: the environment is already built
        [
            "make",
            "--no-print-directory",
            "-o",
            "setup",
            "results",
            f"JOB={tmp_path / 'lab2.log'}",
            f"OUT={tmp_path / 'make.png'}",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    assert COMPLETE_TABLE[1] in completed.stdout
    assert_png(tmp_path / "make.png")


def test_the_command_uses_the_report_steps_parser_and_log_reader():
    assert results.parse_training_log is training_log.parse_training_log
    assert results.read_job_log is report.read_job_log


@pytest.mark.parametrize(
    "setup, argument, message",
    [
        (
            lambda aws, tmp: None,
            "no-such-job",
            "results: error: no training job named 'no-such-job' in us-east-1",
        ),
        (
            lambda aws, tmp: put_job(aws, None),
            JOB,
            f"results: error: training job {JOB} (Completed) has no log stream in {LOG_GROUP} yet",
        ),
        (
            lambda aws, tmp: put_job(aws, HEADER),
            JOB,
            f"results: error: no epoch lines (Epoch[N] Train-accuracy=...) in CloudWatch Logs {LOG_GROUP} "
            f"{JOB}/algo-1-1763728800 yet",
        ),
        (
            lambda aws, tmp: None,
            "{tmp}/missing.json",
            "results: error: {tmp}/missing.json: no such file (and not a training job name)",
        ),
        (
            lambda aws, tmp: (tmp / "r.json").write_text('{"status": "Completed"}'),
            "{tmp}/r.json",
            "results: error: {tmp}/r.json: not a report.json written by the Report step (no 'epochs' list of "
            "{{'epoch': N, ...}} rows)",
        ),
        (
            lambda aws, tmp: (tmp / "r.json").write_text("epoch 1"),
            "{tmp}/r.json",
            "results: error: {tmp}/r.json: not JSON (Expecting value at line 1); expected the report.json the "
            "Report step writes",
        ),
        (
            lambda aws, tmp: None,
            "s3://workshop",
            "results: error: s3://workshop: expected s3://BUCKET/KEY",
        ),
    ],
    ids=[
        "unknown-job",
        "no-log-stream",
        "no-epoch-lines",
        "missing-file",
        "json-not-a-report",
        "not-json",
        "bad-s3-uri",
    ],
)
def test_user_mistakes_are_one_line_errors(aws, capsys, tmp_path, setup, argument, message):
    setup(aws, tmp_path)
    code, _, err = run(capsys, argument.format(tmp=tmp_path), "--out", tmp_path / "never.png")
    assert code == 1
    assert err.splitlines() == [message.format(tmp=tmp_path)]
    assert not (tmp_path / "never.png").exists()


def test_missing_region_and_credentials_are_one_line_errors(capsys, monkeypatch, tmp_path):
    for name in (
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert run(capsys, JOB)[2] == (
        "results: error: no AWS region: pass --region, or set AWS_DEFAULT_REGION or a "
        "region in ~/.aws/config\n"
    )
    code, _, err = run(capsys, JOB, "--region", REGION, "--endpoint-url", "http://127.0.0.1:9")
    assert (
        code == 1 and err == f"results: error: training job {JOB}: Unable to locate credentials\n"
    )


# --- the local emulator: a real moto_server process ----------------------------------------------


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def moto_server():
    port = _free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"moto_server did not start on {url}")
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_results_command_reads_cloudwatch_logs_from_the_local_emulator(moto_server, tmp_path):
    session = boto3.session.Session(
        region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    put_job(
        {s: session.client(s, endpoint_url=moto_server) for s in ("sagemaker", "logs")}, COMPLETE
    )
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    environment.update(CREDENTIALS)
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "stacks.training.results",
            JOB,
            "--region",
            REGION,
            "--endpoint-url",
            moto_server,
            "--out",
            str(tmp_path / "emulated.png"),
        ],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.splitlines()[1:5] == COMPLETE_TABLE
    assert_png(tmp_path / "emulated.png")
