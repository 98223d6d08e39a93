"""moto's server with demo.moto_patches applied: `python -m demo.moto_server -H HOST -p PORT`."""

from __future__ import annotations

import sys

from moto import server

from demo import moto_patches

if __name__ == "__main__":
    moto_patches.apply()
    server.main(sys.argv[1:])
