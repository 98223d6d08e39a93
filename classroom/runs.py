"""`deploy` and `destroy`: one `cdk synth`, then one `cdk` run per account, several at once.

The app is synthesized once into the run's folder and every account's `cdk deploy`/`cdk destroy`
reads that cloud assembly (`--app DIR`): parallel runs never write the same cdk.out. Each run's
output goes to its own log; a line is printed when an account is done, and a failed account does
not stop the others.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from stacks.config.targets import Target

from .credentials import cli_environment
from .errors import ClassroomError

REPO = Path(__file__).resolve().parents[1]
_LAST_LINE_MAX = 160


@dataclass(frozen=True)
class Outcome:
    target: Target
    returncode: int
    seconds: float
    log: Path

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def run_folder(work: Path, action: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    folder = work / f"{action}-{stamp}-{os.getpid()}"
    folder.mkdir(parents=True)
    return folder


def log_name(target: Target) -> str:
    if target.account is None:
        return "current-account.log"
    return f"{target.account}-{target.region}.log"


def synthesize(cdk: Sequence[str], context: Sequence[str], folder: Path) -> Path:
    """`cdk synth` into the run's folder; returns the cloud assembly."""
    assembly = folder / "cdk.out"
    log = folder / "synth.log"
    arguments = [*cdk, "synth", "--quiet", "--output", str(assembly)]
    arguments += [option for item in context for option in ("-c", item)]
    returncode = _run(arguments, dict(os.environ), log)
    if returncode != 0:
        raise ClassroomError(f"cdk synth failed (exit {returncode}): {last_line(log)} (log: {log})")
    return assembly


def run_all(
    targets: Sequence[Target],
    arguments: Callable[[Target], list[str]],
    folder: Path,
    concurrency: int,
    report: Callable[[Outcome], None],
) -> list[Outcome]:
    """`arguments(target)` for every target, at most `concurrency` at a time; `report` is called
    as each ends (in this thread), and the outcomes come back in the targets' order."""

    def one(target: Target) -> Outcome:
        log = folder / log_name(target)
        started = time.monotonic()
        environment = cli_environment(target, os.environ)
        returncode = _run(arguments(target), environment, log)
        return Outcome(target, returncode, time.monotonic() - started, log)

    outcomes: dict[Target, Outcome] = {}
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        futures = [pool.submit(one, target) for target in targets]
        try:
            for future in as_completed(futures):
                outcome = future.result()
                outcomes[outcome.target] = outcome
                report(outcome)
        except BaseException:
            for future in futures:
                future.cancel()
            _stop_children()
            raise
    return [outcomes[target] for target in targets]


_children: set[subprocess.Popen] = set()
_children_lock = threading.Lock()


def _run(arguments: list[str], environment: dict[str, str], log: Path) -> int:
    with open(log, "wb") as output:
        try:
            process = subprocess.Popen(
                arguments,
                cwd=REPO,
                env=environment,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                # Its own process group: an interrupt stops the cdk run and what it started.
                start_new_session=True,
            )
        except OSError as error:
            output.write(f"cannot run {arguments[0]}: {error}\n".encode())
            return 127
        with _children_lock:
            _children.add(process)
        try:
            return process.wait()
        finally:
            with _children_lock:
                _children.discard(process)


def _stop_children() -> None:
    with _children_lock:
        running = list(_children)
    for process in running:
        try:
            os.killpg(process.pid, 15)
        except ProcessLookupError:
            pass


def last_line(log: Path) -> str:
    """The log's last line naming an error (else its last line), cut to one short line."""
    try:
        lines = [line.strip() for line in log.read_text(errors="replace").splitlines()]
    except OSError:
        return "(no log)"
    lines = [line for line in lines if line]
    if not lines:
        return "(no output)"
    errors = [line for line in lines if "error" in line.lower() or "❌" in line]
    line = (errors or lines)[-1]
    return line if len(line) <= _LAST_LINE_MAX else line[: _LAST_LINE_MAX - 3] + "..."


def duration(seconds: float) -> str:
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes}m{rest:02d}s"
