"""The project's own exception types.

Library code raises these with a message written for the user; the CLI turns them into one
line on stderr and exit code 2 (`nas.cli.main.main`). Anything else escaping is a bug.
"""

from __future__ import annotations


class NasError(Exception):
    """Base class of every error meant for the user."""


class GenotypeError(NasError, ValueError):
    """A genotype (JSON or in memory) is malformed or refers to things that do not exist."""


class ConfigError(NasError, ValueError):
    """A configuration value is out of range or sizes are unrealizable (e.g. N @ F)."""


class DataError(NasError):
    """Data is missing or corrupt."""
