"""Process start-up shared by the three functions: settings check and logging."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from hermes.config import get_settings
from hermes.errors import ConfigurationError
from hermes.logs import configure_logging

if TYPE_CHECKING:
    from hermes.settings import Settings


def boot(*, needs_source: bool = False) -> Settings:
    """Validate settings and configure JSON logs; exit naming the bad variable.

    Runs when functions-framework imports a function's module, so a bad setting
    stops the process before it serves (Knative marks the revision not ready).
    """
    try:
        settings = get_settings()
        if needs_source and not settings.data_source_url:
            msg = "invalid configuration: DATA_SOURCE_URL is required by the loaders"
            raise ConfigurationError(msg)
    except ConfigurationError as exc:
        sys.stderr.write(f"hermes: {exc.message}\n")
        raise SystemExit(2) from None
    configure_logging(settings.log_level)
    return settings
