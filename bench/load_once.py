"""Run one full (or delta) load in this process and print duration and peak RSS as JSON.

python -m bench.load_once full|delta   (configured by the environment, like the functions)
"""

from __future__ import annotations

import json
import resource
import sys
import time

from hermes.client import get_client
from hermes.config import get_settings
from hermes.load.delta import delta_load
from hermes.load.full import full_load

if __name__ == "__main__":
    started = time.perf_counter()
    run = full_load if sys.argv[1] == "full" else delta_load
    report = run(get_client(), get_settings())
    wall_s = time.perf_counter() - started
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    sys.stdout.write(json.dumps({**report, "wall_s": wall_s, "peak_rss_mb": peak_rss_mb}) + "\n")
