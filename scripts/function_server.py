"""One function for `make dev`: what `functions-framework --debug` runs, with Werkzeug's stat reloader.

`functions-framework --debug` calls Flask's `app.run(debug=True)` (functions_framework/_http/flask.py), whose
reloader is Werkzeug's watchdog one when watchdog is installed (functions-framework depends on it). That one
watches site-packages and the standard library recursively; here three of them re-scanned each other's
inotify events in a loop ("Inotify queue overflowed") at 30-45 % of a core each while idle. The stat
reloader polls only the files of imported modules (the function, `hermes/`, libraries) once a second.

    python -m scripts.function_server search 8080
"""

from __future__ import annotations

import sys

from functions_framework import create_app


def main(argv: list[str]) -> int:
    name, port = argv
    # functions-framework's create_app carries no annotations.
    app = create_app(target=name, source=f"functions/{name}/main.py", signature_type="http")  # type: ignore[no-untyped-call]
    app.run("127.0.0.1", int(port), debug=True, reloader_type="stat")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
