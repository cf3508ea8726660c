"""User-facing errors: each says what was wrong and how to fix it (the CLI prints one line)."""

from __future__ import annotations


class CodigemError(Exception):
    """Base class for errors a user can act on (bad input, missing data, bad options)."""


class DataError(CodigemError):
    """A dataset is missing, corrupt, malformed, or filtered down to nothing."""


class ChecksumError(DataError):
    """A file's hash does not match the pinned one."""


class ConfigError(CodigemError, ValueError):
    """Conflicting or out-of-range options (a ValueError, so argparse reports it as a usage error)."""


class TrainingError(CodigemError):
    """Training diverged (NaN/inf loss) or cannot continue."""
