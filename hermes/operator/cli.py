"""Operator commands: the same code paths the functions use.

python -m hermes status | full-load [--force] | delta-load | rollback
python -m hermes dead-letters [--clear]
python -m hermes load cancel [--load ID]
python -m hermes analytics [--since 7d] [--size 20]
python -m hermes key create [--sub NAME] [--ttl 30d] [--filter FIELD=V1,V2] [--max-size N] [--rate N]
python -m hermes rules list | set ID … | delete ID | import FILE [--replace] | export FILE
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Mapping
from typing import Any

import jwt
from pydantic import SecretStr

from hermes.client import get_client, translate
from hermes.config import get_settings
from hermes.errors import ConfigurationError, HermesError, error_body
from hermes.load.delta import delta_load
from hermes.load.full import cancel, full_load
from hermes.logs import configure_logging
from hermes.operator import analytics, rules
from hermes.operator.loads import dead_letters, rollback, status
from hermes.search.keys import mint


def _run(args: argparse.Namespace) -> Mapping[str, object]:
    settings = get_settings()
    if args.command == "key":
        return _create_key(args, settings.search_key_secret)
    client = get_client()
    if args.command == "full-load":
        return full_load(client, settings, force=args.force)
    if args.command == "delta-load":
        return delta_load(client, settings)
    if args.command == "load":
        return cancel(client, settings, args.load)
    if args.command == "rollback":
        return rollback(client, settings)
    if args.command == "analytics":
        return analytics.report(client, settings.analytics_prefix, args.since, args.size)
    if args.command == "rules":
        return rules.run(client, settings.rules_index, args)
    if args.command == "dead-letters":
        return dead_letters(client, settings, clear=args.clear)
    return status(client, settings)


_SECONDS = {"m": 60, "h": 3600, "d": 86400}


def _create_key(args: argparse.Namespace, secret: SecretStr | None) -> Mapping[str, object]:
    """A search key signed with HERMES_SEARCH_KEY_SECRET; offline (Elasticsearch is not asked)."""
    if secret is None:
        msg = "HERMES_SEARCH_KEY_SECRET is not set: there is nothing to sign keys with"
        raise ConfigurationError(msg)
    filters: dict[str, list[str | bool]] = {}
    for name, values in args.filter:
        filters.setdefault(name, []).extend(values)
    for name, value in args.filter_bool:
        filters.setdefault(name, []).append(value)
    ttl_s = int(args.ttl[:-1]) * _SECONDS[args.ttl[-1]] if args.ttl else None
    key = mint(
        secret.get_secret_value(), sub=args.sub, ttl_s=ttl_s, filter=filters, max_size=args.max_size, rate=args.rate
    )
    return {"key": key, "claims": jwt.decode(key, options={"verify_signature": False})}


def _field_values(value: str) -> tuple[str, list[str]]:
    name, sep, values = value.partition("=")
    if not sep or not name or not values:
        msg = f"{value!r}: FIELD=VALUE or FIELD=VALUE1,VALUE2"
        raise argparse.ArgumentTypeError(msg)
    return name, values.split(",")


def _field_bool(value: str) -> tuple[str, bool]:
    name, sep, flag = value.partition("=")
    if not sep or not name or flag not in ("true", "false"):
        msg = f"{value!r}: FIELD=true or FIELD=false"
        raise argparse.ArgumentTypeError(msg)
    return name, flag == "true"


def _whole(maximum: int, what: str) -> Callable[[str], int]:
    """An argparse type: a whole number from 1 to ``maximum``."""

    def parse(value: str) -> int:
        if not value.isdigit() or not 1 <= int(value) <= maximum:
            msg = f"{value!r}: {what}, from 1 to {maximum}"
            raise argparse.ArgumentTypeError(msg)
        return int(value)

    return parse


_count = _whole(1000, "a whole number")
_rate = _whole(1_000_000, "requests a minute")


def _age(value: str) -> str:
    if not re.fullmatch(r"[1-9][0-9]*[mhd]", value):
        msg = f"{value!r}: a number of minutes, hours or days, e.g. 30m, 12h, 7d"
        raise argparse.ArgumentTypeError(msg)
    return value


def _key_parser(sub: Any) -> None:
    keys = sub.add_parser("key", help="search keys (HERMES_SEARCH_KEY_SECRET)")
    create = keys.add_subparsers(dest="action", required=True).add_parser("create", help="mint a search key")
    create.add_argument("--sub", help="the key's name: rate limits and analytics count per name")
    create.add_argument("--ttl", type=_age, help="expires after: 30m, 12h, 30d (default: never)")
    only = "only documents whose declared"
    create.add_argument(
        "--filter",
        type=_field_values,
        action="append",
        default=[],
        metavar="FIELD=V1,V2",
        help=f"{only} keyword FIELD holds one of the values (repeatable)",
    )
    create.add_argument(
        "--filter-bool",
        type=_field_bool,
        action="append",
        default=[],
        metavar="FIELD=true",
        help=f"{only} boolean FIELD has this value",
    )
    create.add_argument("--max-size", type=_count, metavar="N", help="largest size the key may ask for")
    create.add_argument("--rate", type=_rate, metavar="N", help="requests a minute this key may send")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hermes", description="Hermes operator commands")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("status", help="alias, indices, watermark, lock, dead letters")
    full = sub.add_parser("full-load", help="rebuild the index and swap the alias")
    full.add_argument("--force", action="store_true", help="swap even if the new index is much smaller")
    sub.add_parser("delta-load", help="apply changes since the watermark")
    sub.add_parser("rollback", help="point the alias back at the previous index")
    load = sub.add_parser("load", help="control a running full load").add_subparsers(dest="action", required=True)
    stop = load.add_parser("cancel", help="cancel the running full load: nothing served changes")
    stop.add_argument("--load", help="the load's id (default: the one running)")
    dead = sub.add_parser("dead-letters", help="list rejected records")
    dead.add_argument("--clear", action="store_true", help="forget them")
    stats = sub.add_parser("analytics", help="top queries and top zero-result queries (HERMES_ANALYTICS=true)")
    stats.add_argument("--since", default="7d", type=_age, help="how far back: 30m, 12h, 7d (default 7d)")
    stats.add_argument("--size", default=20, type=_count, metavar="N", help="queries per list, 1 to 1000 (default 20)")
    _key_parser(sub)
    rules.add_parser(sub)
    args = parser.parse_args(argv)
    configure_logging(get_settings().log_level)
    result: Mapping[str, object]
    try:
        result = _run(args)
    except HermesError as exc:
        result, code = dict(error_body(exc)), 1
    except Exception as exc:
        err = translate(exc)
        if err is None:
            raise
        result, code = dict(error_body(err)), 1
    else:
        code = 0
    sys.stdout.write(json.dumps(result, indent=2, default=str) + "\n")
    return code
