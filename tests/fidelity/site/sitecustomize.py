"""Loaded by every Python child of the fidelity flows (PYTHONPATH): records its AWS calls."""

import os

if os.environ.get("FIDELITY_CALL_LOG"):
    import importlib.util

    _path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "recorder.py")
    _spec = importlib.util.spec_from_file_location("fidelity_recorder", _path)
    _module = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_module)
    _module.install_in_child()
