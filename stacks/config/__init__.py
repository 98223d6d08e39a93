"""The `workshop` settings: their table of specs, defaults, `-c` overrides and validation."""

from stacks.config.settings import ROOT, SettingsError, WorkshopSettings, load_settings

__all__ = ["ROOT", "SettingsError", "WorkshopSettings", "load_settings"]
