"""Hermes: search over Elasticsearch as serverless functions.

The public surface is listed in ``__all__``; heavy dependencies (the
Elasticsearch client) are imported only when first used.
"""

from hermes.errors import (
    BadEventError,
    BadRequestError,
    ConfigurationError,
    ConflictError,
    HermesError,
    LoadFailedError,
    LoadInProgressError,
    NoFullLoadError,
    NotFoundError,
    SourceError,
    UnavailableError,
)
from hermes.settings import Settings, get_settings, load_settings

__all__ = [
    "BadEventError",
    "BadRequestError",
    "ConfigurationError",
    "ConflictError",
    "HermesError",
    "LoadFailedError",
    "LoadInProgressError",
    "NoFullLoadError",
    "NotFoundError",
    "Settings",
    "SourceError",
    "UnavailableError",
    "get_settings",
    "load_settings",
]
