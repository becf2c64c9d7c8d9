"""Errors a user can cause. Each names the file, row, key or ids at fault and the fix."""

from __future__ import annotations

from numbers import Integral


class ArtrecError(Exception):
    """Base class of every error caused by input or configuration (not by a bug)."""


class DatasetError(ArtrecError):
    """A canonical dataset directory breaks docs/data.md."""


class MissingColumnError(DatasetError):
    """A required column is absent from a CSV file."""


class DuplicateIdError(DatasetError):
    """An id that must be unique appears more than once."""


class UnknownItemError(DatasetError):
    """A purchase refers to an item that items.csv does not have."""


class TimeFormatError(DatasetError):
    """A time cell cannot be parsed, or numeric and ISO-8601 times are mixed."""


class ImagePathError(DatasetError):
    """An image path escapes the dataset root (or is absolute where that is not allowed)."""


class CorruptImageError(DatasetError):
    """An image file is missing, unreadable or not a decodable image."""


class ConversionError(ArtrecError):
    """A source data set cannot be converted to the canonical layout."""


class EmbeddingsError(ArtrecError):
    """An embeddings file breaks its format (docs/data.md), or does not cover the items needed."""


class ConfigError(ArtrecError):
    """A configuration value is invalid."""


class ComparisonError(ArtrecError):
    """Per-case results to be compared are malformed or do not cover the same test cases."""


class RunDirError(ArtrecError):
    """A run directory belongs to another run, is in use, or cannot be written."""


class CheckpointError(ConfigError):
    """A checkpoint a config key names is missing, truncated, foreign or unsafe to load."""


class ReportError(ArtrecError):
    """Run directories to report on are missing, unreadable or break the run directory contract."""


def preview(values, limit: int = 5) -> str:
    """The first few values as a readable list, with how many were left out."""
    values = list(values)
    shown = ", ".join(str(v) if isinstance(v, Integral) else repr(str(v)) for v in values[:limit])
    more = len(values) - limit
    return f"[{shown}{f', ... ({more} more)' if more > 0 else ''}]"
