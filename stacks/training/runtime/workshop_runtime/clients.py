"""The retry policy of every handler's AWS clients: throttling during a workshop is retried, not fatal."""

from typing import Any

from botocore.config import Config

# boto3 ships no type information: its clients are built at run time from the service models.
Client = Any

CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 8})
