"""`make demo`: the workshop pipeline end to end on a local AWS emulator, no AWS account needed."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from demo import flow
from demo.emulator import Emulator

PROG = "demo"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse's usage errors as one `demo: error:` line, exit 2
        self.print_usage(sys.stderr)
        self.exit(2, f"{PROG}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        usage="make demo [ARGS='--work DIR']  or  python -m demo [--work DIR]",
        description=__doc__,
    )
    parser.add_argument(
        "--work",
        type=Path,
        metavar="DIR",
        help="keep the files here: a new or empty folder, or one an earlier demo made "
        "(default: a temporary folder)",
    )
    return parser


def _work_folder(work: Path | None) -> Path:
    """The demo's folder, marked as recpack's so nothing of the user's in it is ever removed."""
    from recpack.errors import ForeignFolder
    from recpack.files.ownership import claim_folder

    try:
        return Path(
            claim_folder(str(work or tempfile.mkdtemp(prefix="birds-demo-")), "demo", "--work")
        )
    except ForeignFolder as error:
        raise flow.DemoError(str(error)) from None


def show_training(training: flow.TrainingRun, say) -> None:
    say(f"path: {training.execution.path()}")
    for row in training.execution.output["run"]["quotas"]:
        say(f"  quota {json.dumps(row)}")
    say("attempts:")
    for attempt in training.report["attempts"]:
        market = "spot" if attempt["spot"] else "on-demand"
        reason = f"  ({attempt['reason']})" if attempt.get("reason") else ""
        say(
            f"  {attempt['attempt']}. {attempt['trainingJobName']}  "
            f"{attempt['instanceType']} {market}  {attempt['outcome']}{reason}"
        )


def show_results(state: flow.DemoState, clients: flow.Clients, say) -> None:
    for key in flow.bucket_keys(clients):
        say(f"  s3://{flow.DEMO_BUCKET}/{key}")
    say(
        "records per class (train / validation), "
        f"num_training_samples={state.manifest['num_training_samples']}:"
    )
    for row in state.manifest["labels"]:
        say(
            f"  {row['label']}  {row['class_id']:>4}  {row['name']:<22} "
            f"{row['train']:>4} / {row['val']}"
        )
    request = state.training.requests[-1]
    say(
        f"the job that trained: {request['TrainingJobName']} on "
        f"{request['ResourceConfig']['InstanceType']}; its CreateTrainingJob request, as the "
        "state machine rendered it:"
    )
    say(json.dumps(request, indent=2, default=str))
    for mail in state.training.notifications:
        say(f"\nthe email to {flow.DEMO_EMAIL}:\nSubject: {mail['Subject']}\n{mail['Message']}")


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        work = _work_folder(args.work)
    except flow.DemoError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 1
    return _run(work)


def _run(work: Path) -> int:
    started = time.monotonic()
    step_no = 0

    def step(title: str) -> None:
        nonlocal step_no
        step_no += 1
        print(f"\n== {step_no}. {title} ({time.monotonic() - started:.0f} s)", flush=True)

    def say(line: str) -> None:
        print(line, flush=True)

    flow.set_fake_credentials()
    state = flow.DemoState(work)
    try:
        step("starting the local AWS emulator (moto server)")
        with Emulator(log_path=work / "emulator.log") as emulator:
            say(f"moto server on {emulator.endpoint}; log: {work / 'emulator.log'}")
            clients = flow.Clients(emulator.endpoint)

            step(
                f"generating a sample dataset: {flow.SPECIES} species x {flow.IMAGES_PER_SPECIES} photos, NABirds layout"
            )
            state.dataset, state.archive = flow.make_dataset(work)
            say(flow.exploration_summary(state.dataset, work / "explore"))

            step(
                "synthesizing the stack (cdk synth), creating the bucket, uploading the raw archive"
            )
            template_path = flow.synthesize(work / "cdk.out")
            state.synth_dir = template_path.parent
            state.template = flow.emulator_resources(template_path, clients)
            queue_url = flow.install_build_rule(state.template, clients)
            clients.client("s3").upload_file(str(state.archive), flow.DEMO_BUCKET, flow.RAW_KEY)
            say(
                f"s3://{flow.DEMO_BUCKET}/{flow.RAW_KEY} ({state.archive.stat().st_size / 1e6:.1f} MB)"
            )
            events = flow.delivered_events(clients, queue_url)
            if len(events) != 1:
                raise flow.DemoError(
                    f"the build rule delivered {len(events)} events for the upload, expected 1"
                )
            event = events[0]
            say(
                f"EventBridge: the stack's rule matched '{event['detail-type']}' for {event['detail']['object']['key']}"
            )

            step(
                "running the packaging build as CodeBuild would (buildspec from the synthesized template)"
            )
            state.build_log = flow.run_packaging_build(
                state, event, emulator.environment(), say=say
            )
            state.manifest = flow.read_manifest(clients)

            step(
                "a training run: the synthesized state machine in the emulator's Step Functions "
                f"(quotas from demo/fake_quotas.py; SageMaker has no {flow.NO_CAPACITY_TYPE})"
            )
            state.training = flow.run_training(state, clients)
            show_training(state.training, say)

            step("what happened")
            show_results(state, clients, say)
    except (flow.DemoError, RuntimeError) as error:  # RuntimeError: the emulator did not start
        print(f"\n{PROG}: error: {error}", file=sys.stderr)
        return 1
    except OSError as error:  # the disk filled, the folder went away
        where = f"{error.filename}: " if error.filename else ""
        print(f"\n{PROG}: error: {where}{error.strerror or error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\n{PROG}: interrupted; the emulator was stopped", file=sys.stderr)
        return 130
    print(f"\ndone in {time.monotonic() - started:.0f} s; files in {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
