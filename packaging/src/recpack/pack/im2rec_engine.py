"""`recpack pack --engine im2rec`: MXNet's own tools/im2rec.py with the same arguments."""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys

from ..errors import RecpackError


def im2rec_script() -> str:
    """Path of the im2rec.py the installed MXNet wheel ships, found without importing MXNet (slow)."""
    spec = importlib.util.find_spec("mxnet")
    if spec is None or not spec.submodule_search_locations:
        raise RecpackError(
            "--engine im2rec needs MXNet: pip install 'recpack[im2rec]' "
            "(mxnet==1.9.1, numpy<1.24, opencv-python-headless)"
        )
    script = os.path.join(list(spec.submodule_search_locations)[0], "tools", "im2rec.py")
    if not os.path.isfile(script):
        raise RecpackError(f"the installed MXNet has no {script}")
    if importlib.util.find_spec("cv2") is None:
        raise RecpackError(
            "--engine im2rec needs OpenCV: pip install opencv-python-headless==4.8.1.78"
        )
    return script


def im2rec_arguments(args: argparse.Namespace) -> list[str]:
    argv = [
        args.prefix,
        args.root,
        "--quality",
        str(args.quality),
        "--encoding",
        args.encoding,
        "--color",
        str(args.color),
        "--num-thread",
        str(args.workers or 1),
    ]
    if args.resize:
        argv += ["--resize", str(args.resize)]
    for flag, on in (
        ("--center-crop", args.center_crop),
        ("--pass-through", args.pass_through),
        ("--pack-label", args.pack_label),
    ):
        if on:
            argv.append(flag)
    return argv


def run_im2rec(args: argparse.Namespace) -> int:
    command = [sys.executable, im2rec_script(), *im2rec_arguments(args)]
    return subprocess.call(command)
