"""`make workshop-template`: the workshop stack as a plain template, its assets and a contentspec.

    .venv/bin/python -m stacks.workshop_template [--out dist/workshop] [-c workshop.x=VALUE ...]

writes, laid out as a Workshop Studio repository expects them:

    contentspec.yaml                    the infrastructure section to merge into the workshop's
    static/<stackName>.template.json    the template (no CDK bootstrap needed)
    assets/<hash>.zip                   every file asset, at the key the template reads under
                                        AssetsBucketPrefix

The folder appears whole or not at all; an existing folder is replaced only if this command wrote it.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aws_cdk as cdk

from stacks.app import create_app
from stacks.config import WorkshopSettings
from stacks.config.parameters import TEMPLATE_PARAMETERS

from .stack import WorkshopTemplateStack
from .synthesizer import ASSETS_BUCKET_PARAMETER, ASSETS_PREFIX_PARAMETER, FileAsset

MARKER = ".workshop-template"
# What a template needing the CDK bootstrap contains: its version parameter, rule, SSM parameter
# and the default qualifier of its bucket and roles.
BOOTSTRAP_TRACES = ("BootstrapVersion", "CheckBootstrapVersion", "cdk-bootstrap", "hnb659fds")
# A zip's entries carry this date, so the same files give the same bytes.
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


class BundleError(Exception):
    """The bundle cannot be written; the message says why in one line."""


def bootstrap_traces(template_text: str) -> list[str]:
    return [trace for trace in BOOTSTRAP_TRACES if trace in template_text]


def synthesize(context: Mapping[str, Any], outdir: Path) -> WorkshopTemplateStack:
    """The app with the one template stack (cdk-nag checks it as `cdk synth` does)."""
    stacks: list[WorkshopTemplateStack] = []

    def add_stacks(app: cdk.App, settings: WorkshopSettings) -> None:
        stacks.append(WorkshopTemplateStack(app, settings.stack_name, settings=settings))

    app = create_app(context, outdir=str(outdir), add_stacks=add_stacks)
    app.synth()
    return stacks[0]


def write_bundle(context: Mapping[str, Any], out: Path) -> Path:
    """Synthesize and write the bundle to `out`; returns the template's path."""
    out = out.resolve()
    if out.exists() and not (out / MARKER).is_file():
        raise BundleError(f"{out} exists and was not written by this command; choose another --out")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    staging.chmod(0o755)  # mkdtemp's 0700 would outlive the rename
    try:
        with tempfile.TemporaryDirectory(prefix="workshop-template-synth-") as synth_dir:
            stack = synthesize(context, Path(synth_dir))
            template_name = _write_files(stack, Path(synth_dir), staging)
        _replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out / "static" / template_name


def _write_files(stack: WorkshopTemplateStack, assembly: Path, staging: Path) -> str:
    template_path = assembly / stack.template_file
    text = template_path.read_text()
    traces = bootstrap_traces(text)
    if traces:
        raise BundleError(f"the template refers to the CDK bootstrap ({', '.join(traces)})")
    template_name = f"{stack.stack_name}.template.json"
    (staging / "static").mkdir()
    (staging / "static" / template_name).write_text(text)
    (staging / "assets").mkdir()
    for asset in stack.asset_synthesizer.assets.values():
        _write_asset(asset, assembly, staging / "assets")
    template = json.loads(text)
    (staging / "contentspec.yaml").write_text(contentspec(template, f"static/{template_name}"))
    (staging / MARKER).write_text("written by `make workshop-template`; replaced on the next run\n")
    return template_name


def _write_asset(asset: FileAsset, assembly: Path, assets: Path) -> None:
    source = assembly / asset.source
    if not asset.zipped:
        shutil.copyfile(source, assets / asset.key)
        return
    with zipfile.ZipFile(assets / asset.key, "w", zipfile.ZIP_DEFLATED) as bundle:
        for path in sorted(source.rglob("*")):
            if path.is_file():
                entry = zipfile.ZipInfo(path.relative_to(source).as_posix(), _ZIP_DATE)
                executable = path.stat().st_mode & stat.S_IXUSR
                entry.external_attr = (0o100755 if executable else 0o100644) << 16
                entry.compress_type = zipfile.ZIP_DEFLATED
                bundle.writestr(entry, path.read_bytes())


def _replace(staging: Path, out: Path) -> None:
    """`out` becomes `staging`: the old bundle moves aside first, so a reader never sees a mix."""
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}-old-{os.getpid()}")
        out.rename(old)
    staging.rename(out)
    if old is not None:
        shutil.rmtree(old)


def _quoted(text: str) -> str:
    # A JSON string is a YAML double-quoted scalar: no escaping rules of our own.
    return json.dumps(text)


def contentspec(template: Mapping[str, Any], location: str) -> str:
    """The `infrastructure` section of a Workshop Studio contentspec.yaml for the template."""
    parameters = template.get("Parameters", {})
    lines = [
        "# The infrastructure section of the workshop's contentspec.yaml (Workshop Studio).",
        "# Copy static/ and assets/ beside contentspec.yaml: Workshop Studio uploads assets/ to",
        "# the event's asset bucket under {{.AssetsBucketPrefix}}, where the template reads them.",
        "infrastructure:",
        "  cloudformationTemplates:",
        f"    - templateLocation: {location}",
        f"      label: {_quoted(template.get('Description', 'Workshop'))}",
        "      parameters:",
    ]
    magic = {
        ASSETS_BUCKET_PARAMETER: "{{.AssetsBucketName}}",
        ASSETS_PREFIX_PARAMETER: "{{.AssetsBucketPrefix}}",
    }
    for name, value in magic.items():
        lines += [
            f"        - templateParameter: {name}",
            f"          defaultValue: {_quoted(value)}",
        ]
    for row in TEMPLATE_PARAMETERS:
        lines += [
            f"        - templateParameter: {row.name}",
            f"          defaultValue: {_quoted(str(parameters[row.name]['Default']))}",
            "          userOverridable: true",
        ]
    lines.append("      participantVisibleStackOutputs:")
    lines += [f"        - {name}" for name in template.get("Outputs", {})]
    return "\n".join(lines) + "\n"
