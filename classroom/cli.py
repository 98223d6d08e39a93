"""`python -m classroom deploy|status|destroy` (what `make deploy`, `make status`, `make destroy` run).

Options are defined once here, the commands are one registry, and every error a user can fix is
one `classroom: error: ...` line with recpack's exit codes (usage 2, any other 1, interrupted 130).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from stacks.config import SettingsError, load_settings
from stacks.config.context import cdk_json_context, with_overrides
from stacks.config.targets import Target, targets

from . import runs, status
from .errors import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, ClassroomError, UsageError

DEFAULT_CDK = "npx --no-install cdk"
DEFAULT_WORK = runs.REPO / "classroom.out"


@dataclass(frozen=True)
class Plan:
    """What every command works on: the settings' targets and how to reach them."""

    targets: list[Target]
    concurrency: int
    context: list[str]  # the -c values, for cdk
    cdk: list[str]
    work: Path


def plan(args: argparse.Namespace) -> Plan:
    context = list(args.context)
    if args.concurrency is not None:
        # Checked as the setting is: one rule for CONCURRENCY= and deployConcurrency.
        context.append(f"workshop.deployConcurrency={args.concurrency}")
    settings = load_settings(with_overrides(cdk_json_context(), context))
    cdk = shlex.split(args.cdk)
    if not cdk:
        raise UsageError("--cdk: empty command")
    return Plan(targets(settings), settings.deploy_concurrency, context, cdk, args.work)


def deploy(args: argparse.Namespace) -> int:
    work = plan(args)
    return _each_account(
        work,
        "deploy",
        lambda assembly, target: [
            *work.cdk,
            "deploy",
            "--app",
            str(assembly),
            "--require-approval",
            "never",
            "--outputs-file",
            str(assembly.parent / runs.log_name(target).replace(".log", ".outputs.json")),
            target.stack_id,
        ],
        done="deployed",
    )


def destroy(args: argparse.Namespace) -> int:
    work = plan(args)
    if not args.force and not _confirmed(work.targets):
        print("Not confirmed: nothing deleted.")
        return EXIT_OK
    return _each_account(
        work,
        "destroy",
        lambda assembly, target: [
            *work.cdk,
            "destroy",
            "--app",
            str(assembly),
            "--force",
            target.stack_id,
        ],
        done="destroyed",
    )


def _confirmed(targets_: Sequence[Target]) -> bool:
    """One question for all the stacks, as `cdk destroy` asks for its own."""
    listed = ", ".join(f"{t.stack_name} in {t.where}" for t in targets_)
    print(f"Delete {len(targets_)} stack(s): {listed}?")
    try:
        answer = input("Type y to delete: ")
    except EOFError:
        raise UsageError(
            "no answer on standard input: confirm with --force (make destroy FORCE=1)"
        ) from None
    return answer.strip().lower() in ("y", "yes")


def _each_account(
    work: Plan,
    action: str,
    arguments: Callable[[Path, Target], list[str]],
    done: str,
) -> int:
    folder = runs.run_folder(work.work, action)
    assembly = runs.synthesize(work.cdk, work.context, folder)
    print(
        f"{action}: {len(work.targets)} account(s), {min(work.concurrency, len(work.targets))} "
        f"at a time; logs in {folder}",
        flush=True,
    )

    def report(outcome: runs.Outcome) -> None:
        where, took = outcome.target.where, runs.duration(outcome.seconds)
        if outcome.ok:
            print(f"  {done:<10} {where:<28} {outcome.target.stack_id}  {took}", flush=True)
        else:
            print(
                f"  {'FAILED':<10} {where:<28} {outcome.target.stack_id}  {took}  exit "
                f"{outcome.returncode}: {runs.last_line(outcome.log)}  log: {outcome.log}",
                flush=True,
            )

    outcomes = runs.run_all(
        work.targets,
        lambda target: arguments(assembly, target),
        folder,
        work.concurrency,
        report,
    )
    failed = [o for o in outcomes if not o.ok]
    summary = f"{action}: {len(outcomes) - len(failed)} of {len(outcomes)} account(s) {done}"
    if failed:
        named = "; ".join(f"{o.target.where} (log: {o.log})" for o in failed)
        print(f"{summary}; failed: {named}")
        return EXIT_ERROR
    print(summary)
    return EXIT_OK


def show_status(args: argparse.Namespace) -> int:
    work = plan(args)
    rows = status.read_all(work.targets, work.concurrency)
    print(status.table(rows))
    not_ready = [r for r in rows if not r.ready]
    if not_ready:
        print(f"{len(not_ready)} of {len(rows)} account(s) not ready")
        return EXIT_ERROR
    print(f"all {len(rows)} account(s) ready")
    return EXIT_OK


# The one command registry: name -> (help, function).
COMMANDS: dict[str, tuple[str, Callable[[argparse.Namespace], int]]] = {
    "deploy": ("deploy the stack to every configured account, in parallel", deploy),
    "status": ("one row per account: stack, bucket, quotas, last build and run", show_status),
    "destroy": ("delete the stack in every configured account, in parallel", destroy),
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="classroom", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name, (summary, _) in COMMANDS.items():
        command = commands.add_parser(name, help=summary, description=summary)
        command.add_argument(
            "-c",
            "--context",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="a setting for this run, as `cdk -c` takes it (e.g. 'workshop.accounts=[...]')",
        )
        command.add_argument(
            "--concurrency",
            type=int,
            metavar="N",
            help="accounts at once (default: the deployConcurrency setting)",
        )
        command.add_argument("--cdk", default=DEFAULT_CDK, help=f"CDK CLI command ({DEFAULT_CDK})")
        command.add_argument(
            "--work", type=Path, default=DEFAULT_WORK, help="where logs go (classroom.out/)"
        )
        if name == "destroy":
            command.add_argument("--force", action="store_true", help="do not ask to confirm")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return COMMANDS[args.command][1](args)
    except SettingsError as error:
        print(f"classroom: error: invalid setting {error}", file=sys.stderr)
        return EXIT_ERROR
    except UsageError as error:
        print(f"classroom: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except ClassroomError as error:
        print(f"classroom: error: {error}", file=sys.stderr)
        return error.exit_code
    except OSError as error:
        print(f"classroom: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("classroom: interrupted (cdk runs under way were stopped)", file=sys.stderr)
        return EXIT_INTERRUPTED
