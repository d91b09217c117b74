"""Operations verbs of the CLI (migrate, backup, restore, upgrade-store): kept apart from the everyday verbs."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..settings import Settings

COMMANDS: frozenset[str] = frozenset({"migrate", "backup", "restore", "upgrade-store"})


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register the operations sub-commands."""
    p = sub.add_parser("migrate", help="copy the embedded store into a Qdrant server collection (resumable)")
    p.add_argument("--to", required=True, metavar="URL", help="the Qdrant server, e.g. http://qdrant:6333")
    p.add_argument("--api-key", default=None, help="the server's API key (default NEWSROOM_QDRANT_API_KEY)")
    p.add_argument("--collection", default=None, help="target collection (default NEWSROOM_COLLECTION)")
    p.add_argument("--batch", type=int, default=256, help="points per page and upsert (default 256)")
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")

    p = sub.add_parser("backup", help="back up the store: a .tar.gz (embedded) or a collection snapshot (server)")
    p.add_argument("dest", type=Path, help="a file name, or a folder to write a time-stamped file into")
    p.add_argument("--force", action="store_true", help="overwrite DEST if it exists")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("restore", help="restore a backup made by 'newsroom backup'")
    p.add_argument("src", type=Path)
    p.add_argument("--force", action="store_true", help="replace a store that is not empty")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("upgrade-store", help="rebuild an embedded store made by an earlier version (copies its "
                                             "points, re-embeds nothing; the old folder is kept beside it)")
    p.add_argument("--json", action="store_true")


def _emit(args: argparse.Namespace, data: dict, line: str) -> None:
    if getattr(args, "json", False):
        print(json.dumps(data, ensure_ascii=False, indent=2, default=str))
    else:
        print(line)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from ..store import maintenance

    if args.command == "migrate":
        report = maintenance.migrate_to(settings, args.to, args.api_key, args.collection, batch=max(1, args.batch))
        _emit(args, report.to_dict(), report.summary())
        if not report.verified:
            print("newsroom: migrate did not verify: run it again to resume, or check the server", file=sys.stderr)
            return 1
        return 0
    if args.command == "backup":
        info = maintenance.backup(settings, args.dest, force=args.force)
        _emit(args, info, f"backup ({info['kind']}) written to {info['path']}: {info.get('points', '?')} points, "
                          f"{info['bytes'] / 1e6:.1f} MB, {info['elapsed']:.1f} s")
        return 0
    if args.command == "restore":
        info = maintenance.restore(settings, args.src, force=args.force)
        where = info.get("path") or f"collection '{info.get('collection')}'"
        _emit(args, info, f"restored {info['points']} points into {where} in {info['elapsed']:.1f} s")
        return 0
    if args.command == "upgrade-store":
        info = maintenance.upgrade_store(settings)
        line = (f"upgraded {info['path']} to store format {info['format']}: {info['points']} points copied in "
                f"{info['elapsed']:.1f} s; the old store is at {info['old_copy']} (remove it once satisfied)"
                if info["upgraded"] else f"{info['path']} is already in store format {info['format']}: nothing to do")
        _emit(args, info, line)
        return 0
    raise NotImplementedError(args.command)
