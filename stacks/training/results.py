"""Accuracy by epoch of a training job, for instructors: a table on the terminal and a PNG plot.

Lab 2 ends with "provide a script or notebook to view the accuracy progress by epoch":

    make results JOB=birds-20261121-123456-abcd
    .venv/bin/python -m stacks.training.results JOB_NAME_OR_REPORT_JSON [--out plot.png] [--region R]

JOB_NAME_OR_REPORT_JSON is a training job name or ARN (its log is read from CloudWatch Logs), the
report.json the state machine's Report step writes (a local file or s3://BUCKET/KEY), or a log saved
from the console (any other file). Log lines go through the Report step's own parser and log reader.
The plot goes to --out (a file, or a folder to put JOB-accuracy.png in), by default to
results/JOB-accuracy.png (results/ is ignored by git).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from stacks.training.runtime.workshop_runtime.report import LOG_GROUP, read_job_log
from stacks.training.runtime.workshop_runtime.training_log import parse_training_log

PROG = "results"
EXIT_USAGE = 2
DEFAULT_FOLDER = "results"
# SageMaker's pattern for training job names; a name never holds '.' or '/', a path usually does.
_JOB_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
_JOB_ARN = re.compile(r"^arn:aws[a-z-]*:sagemaker:([a-z0-9-]+):[0-9]{12}:training-job/(.+)$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]+$")


class ResultsError(Exception):
    """A mistake the user can fix, printed as one line."""


@dataclass
class Results:
    job_name: str
    epochs: list[dict]  # rows of parse_training_log
    source: str
    status: str | None = None

    @property
    def best(self) -> dict | None:
        scored = [row for row in self.epochs if row.get("validation_accuracy") is not None]
        return max(scored, key=lambda row: row["validation_accuracy"], default=None)

    @property
    def restarted(self) -> bool:
        return bool(self.epochs) and (self.epochs[0].get("run") or 1) > 1

    def top_k_fields(self) -> list[str]:
        names = {name for row in self.epochs for name in row if "top_k_accuracy" in name}
        return sorted(names, key=lambda name: (not name.startswith("train"), name))


# --- sources -------------------------------------------------------------------------------------


def _client(service: str, args):
    import boto3
    from botocore.exceptions import NoRegionError

    try:
        return boto3.session.Session(region_name=args.region).client(
            service, endpoint_url=args.endpoint_url
        )
    except NoRegionError:
        raise ResultsError(
            "no AWS region: pass --region, or set AWS_DEFAULT_REGION or a region in ~/.aws/config"
        ) from None


@contextmanager
def _aws_errors(what: str):
    """One-line messages for the AWS failures a user can fix (credentials, network, permissions)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as error:
        details = error.response.get("Error", {})
        raise ResultsError(f"{what}: {details.get('Code')}: {details.get('Message')}") from None
    except BotoCoreError as error:
        raise ResultsError(f"{what}: {error}") from None


def from_job(job_name: str, args) -> Results:
    sagemaker, logs = _client("sagemaker", args), _client("logs", args)
    from botocore.exceptions import ClientError

    with _aws_errors(f"training job {job_name}"):
        try:
            status = sagemaker.describe_training_job(TrainingJobName=job_name)["TrainingJobStatus"]
        except ClientError as error:
            # SageMaker answers an unknown job with ValidationException "Requested resource not found".
            if error.response.get("Error", {}).get("Code") in (
                "ValidationException",
                "ResourceNotFound",
            ):
                region = sagemaker.meta.region_name
                raise ResultsError(f"no training job named {job_name!r} in {region}") from None
            raise
        lines, streams = read_job_log(logs, job_name)
    if not streams:
        raise ResultsError(
            f"training job {job_name} ({status}) has no log stream in {LOG_GROUP} yet"
        )
    return Results(
        job_name, parse_training_log(lines), f"CloudWatch Logs {LOG_GROUP} {streams[0]}", status
    )


def _read_s3(uri: str, args) -> str:
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket or not key:
        raise ResultsError(f"{uri}: expected s3://BUCKET/KEY")
    with _aws_errors(uri):
        return (
            _client("s3", args)
            .get_object(Bucket=bucket, Key=key)["Body"]
            .read()
            .decode("utf-8", "replace")
        )


def _read_file(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        raise ResultsError(f"{path}: no such file (and not a training job name)") from None
    except OSError as error:
        raise ResultsError(f"{path}: cannot read: {error.strerror}") from None


def from_report(text: str, where: str) -> Results:
    """The report.json written by the Report step (`workshop_runtime.report.build_report`)."""
    try:
        report = json.loads(text)
    except json.JSONDecodeError as error:
        raise ResultsError(
            f"{where}: not JSON ({error.msg} at line {error.lineno}); expected the report.json "
            "the Report step writes"
        ) from None
    epochs = report.get("epochs") if isinstance(report, dict) else None
    if not isinstance(epochs, list) or not all(
        isinstance(row, dict) and isinstance(row.get("epoch"), int) for row in epochs
    ):
        raise ResultsError(
            f"{where}: not a report.json written by the Report step (no 'epochs' list of "
            "{'epoch': N, ...} rows)"
        )
    name = report.get("trainingJobName") or os.path.splitext(os.path.basename(where))[0]
    return Results(str(name), epochs, where, report.get("status"))


def from_log(text: str, where: str) -> Results:
    name = os.path.splitext(os.path.basename(where))[0]
    return Results(name, parse_training_log(text.splitlines()), where)


def load(source: str, args) -> Results:
    arn = _JOB_ARN.match(source)
    if arn:  # the console and the state machine's output show jobs by their ARN
        args.region = args.region or arn.group(1)
        source = arn.group(2)
    if source.startswith("s3://"):
        text = _read_s3(source, args)
        return from_report(text, source) if source.endswith(".json") else from_log(text, source)
    if os.path.exists(source) or not _JOB_NAME.match(source):
        text = _read_file(source)
        return from_report(text, source) if source.endswith(".json") else from_log(text, source)
    return from_job(source, args)


# --- output --------------------------------------------------------------------------------------


def _cell(value, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def table_lines(results: Results) -> list[str]:
    top_k = results.top_k_fields()
    header = ["epoch", "train acc", "val acc", *[_short(name) for name in top_k], "time (s)"]
    rows = [
        [
            str(row["epoch"]),
            _cell(row.get("train_accuracy")),
            _cell(row.get("validation_accuracy")),
            *[_cell(row.get(name)) for name in top_k],
            _cell(row.get("time_cost"), 1),
        ]
        for row in results.epochs
    ]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    return [
        "  ".join(value.rjust(width) for value, width in zip(line, widths, strict=False))
        for line in [header, *rows]
    ]


def _short(field: str) -> str:
    # "validation_top_k_accuracy_2" -> "val top-2"
    phase, _, k = field.partition("_top_k_accuracy_")
    return f"{'val' if phase == 'validation' else phase} top-{k}"


def plot(results: Results, path: str) -> None:
    try:
        import matplotlib
    except ImportError:
        raise ResultsError(
            "the plot needs matplotlib: make setup (or pip install matplotlib)"
        ) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as pyplot
    from matplotlib.ticker import MaxNLocator

    epochs = [row["epoch"] for row in results.epochs]

    def series(name):
        return [math.nan if row.get(name) is None else row[name] for row in results.epochs]

    figure, axes = pyplot.subplots(figsize=(8, 4.5), layout="constrained")
    axes.plot(epochs, series("train_accuracy"), marker="o", color="#4878a8", label="train accuracy")
    axes.plot(
        epochs,
        series("validation_accuracy"),
        marker="o",
        color="#d1495b",
        label="validation accuracy",
    )
    for name in results.top_k_fields():
        colour = "#4878a8" if name.startswith("train") else "#d1495b"
        axes.plot(
            epochs,
            series(name),
            linestyle="--",
            color=colour,
            alpha=0.6,
            label=_short(name) + " accuracy",
        )
    best = results.best
    if best:
        # Text left of the point near the right edge, so it stays inside the axes.
        near_end = epochs and best["epoch"] > (epochs[0] + epochs[-1]) / 2
        axes.annotate(
            f"best {best['validation_accuracy']:.3f}\n(epoch {best['epoch']})",
            (best["epoch"], best["validation_accuracy"]),
            textcoords="offset points",
            xytext=(-16 if near_end else 16, -52),
            ha="right" if near_end else "left",
            fontsize=9,
            bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": "#cccccc"},
            arrowprops={"arrowstyle": "->", "color": "grey"},
        )
        axes.plot(
            [best["epoch"]],
            [best["validation_accuracy"]],
            marker="o",
            markersize=13,
            fillstyle="none",
            color="#d1495b",
        )
    axes.set_ylim(0, 1.02)
    axes.set_xlabel("epoch (as logged: Epoch[0] is the first)")
    axes.set_ylabel("accuracy")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right", fontsize=9)
    title = f"Accuracy by epoch: {results.job_name}"
    if results.status:
        title += f" ({results.status})"
    if results.restarted:
        title += f"\nrestarted: last of {results.epochs[0]['run']} runs shown"
    axes.set_title(title, fontsize=11)
    try:
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        figure.savefig(path, dpi=100)
    except OSError as error:
        where = f" ({error.filename})" if error.filename and error.filename != path else ""
        raise ResultsError(
            f"--out {path}: cannot write{where}: {error.strerror or error}; name a file in a "
            "folder you can write to"
        ) from None
    finally:
        pyplot.close(figure)


def plot_path(out: str | None, job_name: str) -> str:
    """Where the plot goes: --out as given (a folder gets JOB-accuracy.png inside it), by default
    under results/ (ignored by git, so `make results` leaves no file in the clone)."""
    name = f"{job_name}-accuracy.png"
    if not out:
        return os.path.join(DEFAULT_FOLDER, name)
    if os.path.isdir(out) or out.endswith(("/", os.sep)):
        return os.path.join(out, name)
    if not os.path.splitext(out)[1]:
        return out + ".png"
    return out


def check_plot_format(out: str | None) -> None:
    """Refuse, before any AWS call, a plot file name whose extension matplotlib cannot write."""
    if not out or os.path.isdir(out) or out.endswith(("/", os.sep)):
        return
    extension = os.path.splitext(out)[1].lower().lstrip(".")
    if not extension:
        return
    try:
        from matplotlib.backend_bases import FigureCanvasBase
    except ImportError:
        return  # plot() says how to install it
    formats = FigureCanvasBase.get_supported_filetypes()
    if extension not in formats:
        raise ResultsError(
            f"--out {out}: matplotlib cannot write .{extension} files; use one of "
            + ", ".join(f".{name}" for name in sorted(formats))
            + " (e.g. .png)"
        )


def run(args) -> int:
    check_plot_format(args.out)
    results = load(args.source, args)
    print(
        f"{results.job_name}"
        + (f" ({results.status})" if results.status else "")
        + f", from {results.source}"
    )
    if not results.epochs:
        raise ResultsError(f"no epoch lines (Epoch[N] Train-accuracy=...) in {results.source} yet")
    if results.restarted:
        print(f"the job restarted: {results.epochs[0]['run']} runs in the log, the last one shown")
    for line in table_lines(results):
        print(line)
    best = results.best
    if best:
        print(
            f"best validation accuracy {best['validation_accuracy']:.4f} at epoch {best['epoch']}"
        )
    out = plot_path(args.out, results.job_name)
    plot(results, out)
    print(f"plot: {out}")
    return 0


def _region(text: str) -> str:
    if not _REGION.match(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not an AWS region name such as us-east-1")
    return text


def _endpoint_url(text: str) -> str:
    if "://" not in text:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a URL: give its scheme, e.g. http://{text}"
        )
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Print a training job's accuracy per epoch and plot it (lab 2's accuracy progress).",
        epilog="Run from the repository root: .venv/bin/python -m stacks.training.results JOB, or make results JOB=...",
    )
    parser.add_argument(
        "source",
        metavar="JOB_NAME_OR_REPORT_JSON",
        help="a training job name or ARN (log read from CloudWatch Logs), a report.json from "
        "the Report step (path or s3://BUCKET/KEY), or a saved log file",
    )
    parser.add_argument(
        "--out",
        metavar="PLOT.png",
        help="where to write the plot: a file (.png, .pdf, .svg...) or a folder "
        f"(default: {DEFAULT_FOLDER}/JOB-accuracy.png)",
    )
    # boto3 reads AWS_DEFAULT_REGION; AWS_REGION is what Lambda and CloudShell set.
    parser.add_argument(
        "--region",
        type=_region,
        default=os.environ.get("AWS_REGION") or None,
        help="AWS region of the job (default: $AWS_REGION, else the AWS configuration's)",
    )
    parser.add_argument(
        "--endpoint-url",
        type=_endpoint_url,
        default=os.environ.get("AWS_ENDPOINT_URL") or None,
        help="AWS endpoint, e.g. a local emulator (default: $AWS_ENDPOINT_URL or AWS)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.source.strip():
        parser.print_usage(sys.stderr)
        print(
            f"{PROG}: error: no training job given: make results JOB=<training job name, ARN or "
            "report.json>",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        return run(args)
    except ResultsError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
