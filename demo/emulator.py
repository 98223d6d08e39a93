"""moto's server on 127.0.0.1 with a free port, always stopped at the end."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Emulator:
    """`with Emulator() as emulator:` gives `emulator.endpoint`, a running moto server."""

    def __init__(self, log_path: Path | None = None, settings: dict[str, str] | None = None):
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        # moto's own variables, e.g. MOTO_ACCOUNT_ID (one server per account) or
        # INITIAL_NO_AUTH_ACTION_COUNT (IAM enforced after that many requests).
        self.settings = settings or {}
        self._process: subprocess.Popen | None = None
        self._log = None

    def environment(self) -> dict[str, str]:
        """What a client process needs to talk to the emulator instead of AWS."""
        return {**FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": self.endpoint}

    def start(self) -> Emulator:
        self._log = open(self.log_path, "wb") if self.log_path else subprocess.DEVNULL
        self._process = subprocess.Popen(
            [sys.executable, "-m", "demo.moto_server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **FAKE_CREDENTIALS, **self.settings},
            # demo.moto_server: moto with the patches the state machine runs need.
            cwd=Path(__file__).resolve().parents[1],
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"the emulator exited at start (code {self._process.returncode}); "
                    f"see {self.log_path or 'its output'}"
                )
            try:
                urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=1).close()
                return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the emulator did not answer on {self.endpoint} within 30 s")

    def stop(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._log not in (None, subprocess.DEVNULL):
            self._log.close()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
