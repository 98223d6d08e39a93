"""The `workshop` settings as a table of specs: type, default, limits, documentation, rules.

A new setting is one entry here (with its default: cdk.json need not list it) and the code that
uses it; the README's settings table is generated from this one (`python -m stacks.config.docs`).
Messages name the setting by its dotted path: `workshop.packaging.quality: 101 must be between 1
and 100`.
"""

from __future__ import annotations

import dataclasses
from itertools import permutations

from recpack import defaults as recpack_defaults
from stacks.config.regions import IMAGE_CLASSIFICATION_ACCOUNTS
from stacks.config.retention import RETENTION_BY_DAYS
from stacks.config.seats import JOB_NAME_SUFFIX_LENGTH, MAX_SEATS, seat_key_prefix
from stacks.training.runtime.workshop_runtime.hyperparameters import (
    HYPERPARAMETERS,
    LAB2_DEFAULTS,
)
from stacks.training.runtime.workshop_runtime.job_names import MAX_ATTEMPTS
from stacks.training.runtime.workshop_runtime.specs import (
    Bool,
    Check,
    Choice,
    Fields,
    Int,
    List,
    Number,
    Rule,
    Str,
    Values,
)

PREFIX_NAMES = ("raw", "train", "validation", "output", "queue")
# A relative S3 key prefix of safe characters, ending in '/'.
_PREFIX = r"[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*/"
# Job names are at most 63 characters and Prepare appends a timestamp. Lower case because IAM
# matches the training-job ARN, which SageMaker writes in lower case.
_JOB_NAME_PREFIX_MAX = 39
_JOB_NAME_PREFIX = rf"[a-z0-9](-*[a-z0-9]){{0,{_JOB_NAME_PREFIX_MAX - 1}}}"
_MAX_RUNTIME_SECONDS = 28 * 24 * 3600
_PROFILE = r"[A-Za-z0-9_.@+-]{1,64}"
# An address AWS Budgets and SNS accept: one @, a dotted domain, no spaces or commas.
_EMAIL = (
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](-*[A-Za-z0-9])*(\.[A-Za-z0-9](-*[A-Za-z0-9])*)+"
)
# AWS Budgets takes at most 10 email subscribers per notification.
_BUDGET_EMAILS_MAX = 10
_DISTRIBUTED_KV_STORES = ("dist_sync", "dist_async")

ACCOUNT = Fields(
    fields={
        "account": Str(pattern=r"[0-9]{12}", reason="is not a 12-digit account id"),
        "region": Str(
            pattern=r"[a-z]{2}(-[a-z]+)+-[0-9]",
            reason="is not a region name",
            checks=(
                Check(
                    lambda region: region in IMAGE_CLASSIFICATION_ACCOUNTS,
                    "{value} has no image-classification image in this app (supported: "
                    + ", ".join(sorted(IMAGE_CLASSIFICATION_ACCOUNTS))
                    + ")",
                ),
            ),
        ),
        # `make deploy/status/destroy` (classroom) run with this AWS CLI profile; the app ignores it.
        "profile": Str(
            pattern=_PROFILE,
            reason="is not an AWS CLI profile name (letters, digits and _ . @ + - only)",
            default=None,
        ),
    },
)


def _prefix(default: str, doc: str) -> Str:
    return Str(
        pattern=_PREFIX,
        reason="must be a relative key prefix ending in '/', such as 'raw/'",
        default=default,
        doc=doc,
    )


def _no_overlap(name: str, other: str) -> Rule:
    return Rule(
        at=name,
        needs=(other,),
        holds=lambda v: not v[other].startswith(v[name]),
        explain=lambda v: f"overlaps prefixes.{other} ({v[other]!r}); "
        "each prefix needs its own permissions",
    )


def _image_side(values: Values) -> int:
    return max(values["training.hyperparameters.image_shape"][1:])


PACKAGING = Fields(
    fields={
        "trainRatio": Number(
            minimum=0,
            maximum=1,
            exclusive=True,
            reason="must be between 0 and 1 (exclusive): "
            "training needs both a train and a validation channel",
            default=recpack_defaults.PIPELINE_TRAIN_RATIO,
            doc="`recpack pipeline --train-ratio`: share of each class's images in the train "
            "channel",
        ),
        "resize": Int(
            minimum=1,
            default=recpack_defaults.PIPELINE_RESIZE,
            doc="`--resize`: shorter side in pixels; at least the training `image_shape` sides",
        ),
        "quality": Int(
            minimum=1,
            maximum=100,
            default=recpack_defaults.QUALITY,
            doc="`--quality`: JPEG quality",
        ),
        "classes": List(
            item=Str(
                checks=(
                    Check(
                        lambda name: bool(name.strip()) and "," not in name,
                        "must be a non-empty class id or name without commas",
                    ),
                ),
            ),
            default=[],
            doc='`--classes`: ids or names to package, e.g. `["0752", "Northern Cardinal"]`; '
            "empty: all",
        ),
        "buildTimeoutMinutes": Int(
            minimum=5, maximum=2160, default=60, doc="Time limit of one packaging build"
        ),
    },
)

TRAINING = Fields(
    fields={
        "instanceTypes": List(
            item=Str(
                pattern=r"ml\.[a-z][a-z0-9-]*\.[0-9]*x?large",
                reason="is not a SageMaker instance type such as 'ml.g4dn.xlarge'",
            ),
            min_items=1,
            item_name="instance type",
            unique=True,
            default=[
                "ml.g4dn.xlarge",
                "ml.g5.xlarge",
                "ml.g4dn.2xlarge",
                "ml.p3.2xlarge",
                "ml.p2.xlarge",
            ],
            doc="Preference list; each run uses the first with free quota",
        ),
        "jobNamePrefix": Str(
            pattern=_JOB_NAME_PREFIX,
            reason=f"must be 1-{_JOB_NAME_PREFIX_MAX} lower-case letters, digits or inner hyphens "
            "(job names are at most 63 characters)",
            default="birds",
            doc="Training job names start with it; the roles may touch only those jobs",
        ),
        "maxRuntimeSeconds": Int(
            minimum=1,
            maximum=_MAX_RUNTIME_SECONDS,
            reason=f"must be a positive integer of at most {_MAX_RUNTIME_SECONDS} (28 days)",
            default=3600,
            doc="Time limit of one training job",
        ),
        "volumeSizeGb": Int(
            minimum=1,
            maximum=16384,
            reason="must be a positive integer of at most 16384",
            default=50,
            doc="Storage of the training instance",
        ),
        "requestQuotaIncrease": Bool(
            default=False,
            doc='A deploy that finds no GPU quota files an increase request (see "Quotas")',
        ),
        "requireGpuQuota": Bool(
            default=False, doc='A deploy fails when no preferred type has quota (see "Quotas")'
        ),
        "preflightOnEveryDeploy": Bool(
            default=True,
            doc="Every deploy reads the quotas again; `false`: only when these settings change",
        ),
        "waitForQuotaMinutes": Int(
            minimum=0,
            maximum=1440,
            default=60,
            doc="How long a run may wait in line for GPU quota held by other jobs, from its "
            'start; `0`: fail at once (see "Training on workshop day")',
        ),
        "maxAttempts": Int(
            minimum=1,
            maximum=MAX_ATTEMPTS,
            default=6,
            doc="Training jobs one run may create: a job refused for quota or failed for lack of "
            "capacity is tried again, on the next type for capacity",
        ),
        "spot": Bool(
            default=False,
            doc="Managed spot training (checkpoints under `output/<job>/checkpoints/`), up to "
            "about 70 % cheaper; spot jobs use the separate spot quotas",
        ),
        "spotFallbackToOnDemand": Bool(
            default=True,
            doc="With `spot`: a type without spot quota or spot capacity runs on demand instead",
        ),
        "instanceCount": Int(
            minimum=1,
            maximum=16,
            default=1,
            doc="Instances per training job (distributed training needs `kv_store`); the quota "
            "must hold this many instances of one type",
        ),
        "startAfterPackaging": Bool(
            default=False,
            doc="A successful packaging build starts one training run with the defaults",
        ),
        "hyperparameters": dataclasses.replace(
            HYPERPARAMETERS,
            default=LAB2_DEFAULTS,
            default_doc="lab 2's values",
            doc="Defaults of every run (any of the algorithm's hyperparameters); "
            "`num_training_samples` and `num_classes` come from the packaged data",
        ),
    },
    rules=(
        Rule(
            # Several instances without a distributed kv_store each train alone and waste GPUs.
            at="instanceCount",
            needs=("hyperparameters.kv_store",),
            holds=lambda v: v["instanceCount"] == 1
            or v["hyperparameters.kv_store"] in _DISTRIBUTED_KV_STORES,
            explain=lambda v: "needs the hyperparameter kv_store set to dist_sync or dist_async "
            "(training.hyperparameters.kv_store) for more than one instance",
        ),
    ),
)

SETTINGS = Fields(
    fields={
        "stackName": Str(
            pattern=r"[A-Za-z][A-Za-z0-9-]{0,100}",
            reason="must be a letter followed by up to 100 letters, digits or hyphens",
            default="BirdsWorkshop",
            doc="CloudFormation stack name",
        ),
        "accounts": List(
            item=ACCOUNT,
            unique=("account", "region"),
            default=[],
            doc='`[{"account": "111122223333", "region": "us-east-1"}, ...]`: one stack per '
            "entry; empty: one stack for the CLI's current account and region. Regions: the 16 "
            "with an image-classification image (`stacks/config/regions.py`). An entry's optional "
            '`"profile"` names the AWS CLI profile `make deploy`, `status` and `destroy` use for '
            "it (default: the CLI's current credentials)",
        ),
        "deployConcurrency": Int(
            minimum=1,
            maximum=64,
            default=4,
            doc="Accounts `make deploy` and `make destroy` work on at once (`CONCURRENCY=` "
            "overrides it for one run)",
        ),
        "retainBucket": Bool(
            default=False, doc="`true` keeps the bucket and its objects on `make destroy`"
        ),
        "prefixes": Fields(
            fields={
                "raw": _prefix(
                    recpack_defaults.RAW_PREFIX,
                    "Uploaded image archives; an upload starts the build",
                ),
                "train": _prefix(
                    recpack_defaults.TRAIN_PREFIX, "Training channel, written by the build"
                ),
                "validation": _prefix(
                    recpack_defaults.VALIDATION_PREFIX, "Validation channel, written by the build"
                ),
                "output": _prefix("output/", "Model artifacts and report.json of each job"),
                "queue": _prefix(
                    "queue/",
                    "Tickets of training runs waiting for GPU quota, first come first served",
                ),
            },
            rules=tuple(_no_overlap(a, b) for a, b in permutations(PREFIX_NAMES, 2)),
        ),
        "manifestKey": Str(
            pattern=r"[^/].*",
            reason="must be a non-empty object key",
            default=recpack_defaults.MANIFEST_KEY,
            doc="Written by the build, read by training",
        ),
        "noncurrentVersionExpirationDays": Int(
            minimum=1, default=30, doc="Old object versions are deleted after this many days"
        ),
        "abortIncompleteMultipartUploadDays": Int(
            minimum=1, default=7, doc="Unfinished uploads are discarded after this many days"
        ),
        "logRetentionDays": Choice(
            values=tuple(RETENTION_BY_DAYS),
            reason="is not one of " + ", ".join(map(str, RETENTION_BY_DAYS)),
            default=30,
            doc="How long the stack's log groups keep their events",
        ),
        "packaging": PACKAGING,
        "training": TRAINING,
        "notificationEmails": List(
            item=Str(pattern=_EMAIL, reason="is not an email address such as 'ana@example.com'"),
            unique=True,
            default=[],
            doc="Each address gets (after confirming the subscription) one email per packaging "
            "build and per training run; empty: no topic",
        ),
        "budgetMonthlyUsd": Int(
            minimum=0,
            default=0,
            doc="A monthly AWS Budgets cost budget for the whole account, alerting the "
            "notification emails at 80 % and 100 % of actual cost; `0`: none",
        ),
        "seats": Int(
            minimum=1,
            maximum=MAX_SEATS,
            default=1,
            doc="Students sharing this account, each with an isolated seat: data under "
            "`seat-NN/`, own build, state machine, jobs `<jobNamePrefix>-sNN-...` and a role "
            'to assume (see "Several students in one account"); `1`: no seats',
        ),
    },
    rules=(
        Rule(
            at="manifestKey",
            needs=("prefixes.raw",),
            holds=lambda v: not v["manifestKey"].startswith(v["prefixes.raw"]),
            explain=lambda v: f"is under prefixes.raw ({v['prefixes.raw']}); "
            "writing it would trigger the build again",
        ),
        Rule(
            # The build packs with the shorter side at `resize`; the algorithm fails on images
            # smaller than image_shape, which would only show after a GPU instance started.
            at="packaging.resize",
            needs=("training.hyperparameters.image_shape",),
            holds=lambda v: v["packaging.resize"] >= _image_side(v),
            explain=lambda v: "is smaller than the training image_shape "
            f"{v.text('training.hyperparameters.image_shape')} "
            f"({v.name('training.hyperparameters.image_shape')}); use {_image_side(v)} or more",
        ),
        Rule(
            at="budgetMonthlyUsd",
            needs=("notificationEmails",),
            holds=lambda v: v["budgetMonthlyUsd"] == 0 or bool(v["notificationEmails"]),
            explain=lambda v: "needs notificationEmails: the budget's alerts go to them",
        ),
        Rule(
            at="budgetMonthlyUsd",
            needs=("notificationEmails",),
            holds=lambda v: v["budgetMonthlyUsd"] == 0
            or len(v["notificationEmails"]) <= _BUDGET_EMAILS_MAX,
            explain=lambda v: f"alerts at most {_BUDGET_EMAILS_MAX} email addresses (AWS "
            f"Budgets' limit), and notificationEmails lists {len(v['notificationEmails'])}",
        ),
        Rule(
            # Each seat's runs are named <jobNamePrefix>-sNN-...: the prefix must leave room.
            at="seats",
            needs=("training.jobNamePrefix",),
            holds=lambda v: v["seats"] == 1
            or len(v["training.jobNamePrefix"]) + JOB_NAME_SUFFIX_LENGTH <= _JOB_NAME_PREFIX_MAX,
            explain=lambda v: "names jobs <jobNamePrefix>-s01-...: training.jobNamePrefix "
            f"may then have at most {_JOB_NAME_PREFIX_MAX - JOB_NAME_SUFFIX_LENGTH} characters "
            f"({len(v['training.jobNamePrefix'])} now)",
        ),
        Rule(
            # The shared queue must stay out of every student's prefix.
            at="prefixes.queue",
            needs=("seats",),
            holds=lambda v: not any(
                v["prefixes.queue"].startswith(seat_key_prefix(n))
                for n in range(1, v["seats"] + 1)
                if v["seats"] > 1
            ),
            explain=lambda v: "is inside a seat's prefix (seat-NN/), where that seat's student "
            "could rewrite every seat's place in the queue",
        ),
    ),
)
