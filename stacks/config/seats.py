"""Seats: several isolated student environments in one account (the `seats` setting).

Seat n (two digits, `01`) keeps its data under `seat-01/` in the one bucket (`seat-01/raw/`,
`seat-01/train/`, ... and `seat-01/manifest.json`, from the `prefixes` and `manifestKey`
settings) and names its training jobs `<jobNamePrefix>-s01-...`. Every seat's job-name prefix has
the same length, so none is a prefix of another: a role or teardown scoped to `birds-s01` never
reaches `birds-s02`'s or `birds-s10`'s jobs. The queue of runs waiting for GPU quota
(`prefixes.queue`) stays at the bucket's root, shared by every seat.

With one seat (the default) there is no seat prefix at all: the stack is what it always was.
"""

from __future__ import annotations

from dataclasses import dataclass

from stacks.training.runtime.workshop_runtime.specs import Namespace

# A seat adds about 31 resources (every feature on) and 9 outputs: 12 seats stay well inside
# CloudFormation's 500 resources and 200 outputs per stack (stacks/app.py checks the real counts).
MAX_SEATS = 12
KEY_PREFIX_PATTERN = "seat-{label}/"
JOB_NAME_SUFFIX_PATTERN = "-s{label}"
# What a seat adds to training.jobNamePrefix ("-s01").
JOB_NAME_SUFFIX_LENGTH = len(JOB_NAME_SUFFIX_PATTERN.format(label="00"))


def seat_label(number: int) -> str:
    if not 1 <= number <= MAX_SEATS:
        raise ValueError(f"seat {number} is outside 1..{MAX_SEATS}")
    return f"{number:02d}"


def seat_key_prefix(number: int) -> str:
    """`seat-01/`: every key of seat 1 starts with it."""
    return KEY_PREFIX_PATTERN.format(label=seat_label(number))


def seat_job_name_prefix(job_name_prefix: str, number: int) -> str:
    """`birds-s01`: the job-name prefix of seat 1's runs."""
    return job_name_prefix + JOB_NAME_SUFFIX_PATTERN.format(label=seat_label(number))


@dataclass(frozen=True)
class SeatLayout:
    """Where one seat keeps its data and how it names its jobs. `number` is None for the single
    seat of a stack without seats (no prefix, the settings' own names)."""

    number: int | None
    raw_prefix: str
    train_prefix: str
    validation_prefix: str
    output_prefix: str
    manifest_key: str
    job_name_prefix: str

    @property
    def label(self) -> str:
        return seat_label(self.number) if self.number is not None else ""

    @property
    def key_prefix(self) -> str:
        return seat_key_prefix(self.number) if self.number is not None else ""

    @property
    def channels(self) -> tuple[str, str]:
        return (self.train_prefix, self.validation_prefix)


def seat_layouts(settings: Namespace) -> tuple[SeatLayout, ...]:
    """One layout per seat: the settings' prefixes, manifest key and job-name prefix, under
    `seat-NN/` and with `-sNN` when there are several seats."""
    prefixes, job_name_prefix = settings.prefixes, settings.training.job_name_prefix
    if settings.seats == 1:
        numbers: list[int | None] = [None]
    else:
        numbers = list(range(1, settings.seats + 1))
    layouts = []
    for number in numbers:
        root = seat_key_prefix(number) if number is not None else ""
        layouts.append(
            SeatLayout(
                number=number,
                raw_prefix=root + prefixes.raw,
                train_prefix=root + prefixes.train,
                validation_prefix=root + prefixes.validation,
                output_prefix=root + prefixes.output,
                manifest_key=root + settings.manifest_key,
                job_name_prefix=(
                    seat_job_name_prefix(job_name_prefix, number)
                    if number is not None
                    else job_name_prefix
                ),
            )
        )
    return tuple(layouts)
