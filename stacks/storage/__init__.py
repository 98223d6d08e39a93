"""The workshop bucket: raw images in, RecordIO channels and model artifacts out."""

from .workshop_bucket import WorkshopBucket

__all__ = ["WorkshopBucket"]
