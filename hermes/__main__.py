"""``python -m hermes``: operator commands."""

import sys

from hermes.load.cli import main

sys.exit(main())
