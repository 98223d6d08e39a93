import sys

from .cli import main

if __name__ == "__main__":  # spawned workers (Windows) import this module again
    sys.exit(main())
