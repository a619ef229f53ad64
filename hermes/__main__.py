"""``python -m hermes``: operator commands."""

import sys

from hermes.cli import main

sys.exit(main())
