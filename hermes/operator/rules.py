"""``python -m hermes rules …``: list, set, delete, import and export the relevance rules (docs/operations.md).

Rules live one document per rule (``_id``: the rule's id) in ``<ES_INDEX>.hermes-rules``, which this
module creates on the first write; the search function reads them (:mod:`hermes.search.served_rules`).
Every write is validated as a whole set first (:func:`hermes.search.rules.check_set`) and refreshed
before the command answers, so the next read sees it. A rules file is ``{"rules": [rule, …]}``, what
``export`` writes and ``import`` reads.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hermes.errors import InvalidRuleError, NotFoundError
from hermes.search.rules import MAX_RULES, Rule, check_set, parse_rule, to_json

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

MAPPINGS: dict[str, Any] = {"dynamic": False, "properties": {"type": {"type": "keyword"}}}
SETTINGS: dict[str, Any] = {"number_of_shards": 1, "auto_expand_replicas": "0-1"}
MAX_FILE_BYTES = 16 * 1024 * 1024


def stored(client: Elasticsearch, index: str) -> list[Rule]:
    """Every rule in ``index``, by id; [] when it does not exist. A stored document that is not a valid
    rule (written by hand) is an error naming it: fix or delete it."""
    found = client.options(ignore_status=404).search(index=index, size=MAX_RULES, sort=["_doc"])
    if found.meta.status == 404:
        return []
    rules = [parse_rule(hit["_source"]) for hit in found.body["hits"]["hits"]]
    return sorted(rules, key=lambda r: r.id)


def set_rule(client: Elasticsearch, index: str, rule: Rule) -> dict[str, Any]:
    """Add ``rule``, or replace the rule with its id."""
    check_set([r for r in stored(client, index) if r.id != rule.id] + [rule])
    _ensure(client, index)
    client.index(index=index, id=rule.id, document=to_json(rule), refresh=True)
    return {"set": to_json(rule)}


def delete_rule(client: Elasticsearch, index: str, rule_id: str) -> dict[str, Any]:
    resp = client.options(ignore_status=404).delete(index=index, id=rule_id, refresh=True)
    if resp.meta.status == 404:
        msg = f"no rule with id {rule_id!r}"
        raise NotFoundError(msg)
    return {"deleted": rule_id}


def read_file(path: str) -> list[Rule]:
    """The rules of a rules file (``-``: standard input), validated as a set."""
    try:
        text = sys.stdin.read(MAX_FILE_BYTES + 1) if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        msg = f"cannot read {path}: {exc.strerror}"
        raise InvalidRuleError(msg) from None
    if len(text) > MAX_FILE_BYTES:
        msg = f"{path}: larger than {MAX_FILE_BYTES} bytes"
        raise InvalidRuleError(msg)
    try:
        raw = json.loads(text)
    except ValueError as exc:
        msg = f"{path}: not valid JSON ({exc})"
        raise InvalidRuleError(msg) from None
    if not isinstance(raw, Mapping) or set(raw) != {"rules"} or not isinstance(raw["rules"], list):
        msg = f'{path}: a rules file is {{"rules": [rule, …]}}'
        raise InvalidRuleError(msg)
    rules = [parse_rule(r) for r in raw["rules"]]
    check_set(rules)
    return rules


def import_rules(client: Elasticsearch, index: str, path: str, *, replace: bool) -> dict[str, Any]:
    """Set every rule of the file; with ``replace``, also delete the rules the file does not have."""
    rules = read_file(path)
    given = {r.id for r in rules}
    before = stored(client, index)
    kept = [r for r in before if r.id not in given and not replace]
    check_set(kept + rules)
    gone = [r.id for r in before if r.id not in given] if replace else []
    _ensure(client, index)
    actions: list[dict[str, Any]] = []
    for rule in rules:
        actions += [{"index": {"_index": index, "_id": rule.id}}, to_json(rule)]
    actions += [{"delete": {"_index": index, "_id": rule_id}} for rule_id in gone]
    if actions:
        resp = client.bulk(operations=actions, refresh=True)
        if resp.get("errors"):
            failed = [i for i in resp["items"] if next(iter(i.values())).get("status", 500) >= 300]
            msg = f"Elasticsearch refused {len(failed)} of the rules' writes: {failed[:3]}"
            raise InvalidRuleError(msg)
    return {"imported": len(rules), "deleted": gone, "rules": len(kept) + len(rules)}


def export_rules(client: Elasticsearch, index: str, path: str) -> dict[str, Any]:
    """Write every rule to a rules file; ``-``: the file is the command's output."""
    content = {"rules": [to_json(r) for r in stored(client, index)]}
    if path == "-":
        return content
    Path(path).write_text(json.dumps(content, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return {"exported": len(content["rules"]), "file": path}


def _ensure(client: Elasticsearch, index: str) -> None:
    resp = client.options(ignore_status=400).indices.create(index=index, settings=SETTINGS, mappings=MAPPINGS)
    if resp.meta.status == 400 and "already_exists" not in str(resp.body.get("error", {}).get("type", "")):
        msg = f"Elasticsearch refused to create {index}: {resp.body.get('error')}"
        raise InvalidRuleError(msg)


def rule_from_args(args: argparse.Namespace) -> Rule:
    """The rule ``rules set`` describes, validated like a file's."""
    raw: dict[str, Any] = {"id": args.id}
    if args.synonyms is not None:
        raw |= {"type": "synonyms", "terms": args.synonyms}
    elif args.one_way is not None:
        if args.to is None:
            msg = f"rule {args.id}: --one-way needs --to"
            raise InvalidRuleError(msg)
        raw |= {"type": "one_way", "from": args.one_way, "to": args.to}
    else:
        raw |= {"type": "curate", "query": args.query, "pin": args.pin or [], "hide": args.hide or []}
    if args.to is not None and args.one_way is None:
        msg = f"rule {args.id}: --to goes with --one-way"
        raise InvalidRuleError(msg)
    if (args.pin or args.hide) and args.query is None:
        msg = f"rule {args.id}: --pin and --hide go with --query"
        raise InvalidRuleError(msg)
    return parse_rule(raw)


def run(client: Elasticsearch, index: str, args: argparse.Namespace) -> Mapping[str, object]:
    """One ``rules`` command."""
    if args.action == "set":
        return set_rule(client, index, rule_from_args(args))
    if args.action == "delete":
        return delete_rule(client, index, args.id)
    if args.action == "import":
        return import_rules(client, index, args.file, replace=args.replace)
    if args.action == "export":
        return export_rules(client, index, args.file)
    return {"index": index, "rules": [to_json(r) for r in stored(client, index)]}


def add_parser(sub: Any) -> None:
    """The ``rules`` command and its actions."""
    rules = sub.add_parser("rules", help="synonyms, pins and hides applied at search time (no load)")
    actions = rules.add_subparsers(dest="action", required=True)
    actions.add_parser("list", help="every rule, as a rules file")
    put = actions.add_parser("set", help="add a rule or replace the rule with this id")
    put.add_argument("id", help="the rule's id: letters, digits, '_', '.', ':', '-'")
    kind = put.add_mutually_exclusive_group(required=True)
    kind.add_argument("--synonyms", nargs="+", metavar="TERM", help="two-way: each term finds the others")
    kind.add_argument("--one-way", metavar="TERM", help="one-way: TERM also finds the --to terms")
    kind.add_argument("--query", metavar="Q", help="curate this query with --pin and --hide")
    put.add_argument("--to", nargs="+", metavar="TERM", help="what --one-way's term also finds")
    put.add_argument("--pin", nargs="+", metavar="ID", help="document ids shown first for --query, in order")
    put.add_argument("--hide", nargs="+", metavar="ID", help="document ids never shown for --query")
    delete = actions.add_parser("delete", help="delete a rule")
    delete.add_argument("id")
    load = actions.add_parser("import", help="set every rule of a rules file")
    load.add_argument("file", help='a JSON rules file, {"rules": [...]}, or - for standard input')
    load.add_argument("--replace", action="store_true", help="also delete the rules the file does not have")
    save = actions.add_parser("export", help="write every rule to a rules file")
    save.add_argument("file", help="where to write, or - for standard output")
