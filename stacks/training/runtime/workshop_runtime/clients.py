"""The retry policy of every handler's AWS clients: throttling during a workshop is retried, not fatal."""

from botocore.config import Config

CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 8})
