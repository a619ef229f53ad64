"""``python -m hermes``: operator commands."""

import sys

from hermes.operator.cli import main

sys.exit(main())
