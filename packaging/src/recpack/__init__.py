"""recpack: im2rec-compatible MXNet RecordIO packaging."""

__version__ = "0.1.0"
