"""The `newsroom` command: ingest, search, ask, serve, status."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from .errors import NewsroomError
from .settings import load_settings


def _filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("--lang", action="append", help="only passages in this language (repeatable)")
    p.add_argument("--source", action="append", help="only this outlet (repeatable)")
    p.add_argument("--since", help="published on or after this date (YYYY-MM-DD or ISO 8601)")
    p.add_argument("--until", help="published on or before this date")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def build_parser() -> argparse.ArgumentParser:
    # Global options are accepted before or after the verb.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", default=argparse.SUPPRESS,
                        help="where the embedded store lives (NEWSROOM_DATA_DIR, default ./data)")
    common.add_argument("--config", default=argparse.SUPPRESS, help="a TOML settings file (NEWSROOM_CONFIG)")
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="log to stderr")
    parser = argparse.ArgumentParser(prog="newsroom", description="Cited answers from your news archive.", parents=[common])
    sub = parser.add_subparsers(dest="command", required=True)
    _add = sub.add_parser
    sub.add_parser = lambda *a, **kw: _add(*a, parents=[common], **kw)  # type: ignore[method-assign]

    p = sub.add_parser("ingest", help="read files or folders into the archive")
    p.add_argument("paths", nargs="+", type=Path)
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")
    p.add_argument("--strict", action="store_true", help="exit non-zero when any file failed")
    p.add_argument("--prune", action="store_true", help="remove stored articles whose files under PATHS are gone")

    p = sub.add_parser("search", help="find passages")
    p.add_argument("query")
    p.add_argument("--k", type=int, default=None, help="how many passages (default NEWSROOM_TOP_K)")
    p.add_argument("--mode", choices=["hybrid", "dense", "sparse"], default="hybrid")
    _filters(p)

    p = sub.add_parser("ask", help="answer a question with citations")
    p.add_argument("question")
    _filters(p)

    p = sub.add_parser("serve", help="run the web app and HTTP API")
    p.add_argument("--host", default=None)
    p.add_argument("--port", type=int, default=None)

    p = sub.add_parser("eval", help="measure retrieval (and answers) against gold evidence")
    p.add_argument("--corpus", nargs="+", type=Path, required=True, help="corpus JSONL file(s)")
    p.add_argument("--questions", type=Path, required=True, help="questions JSONL with gold_paragraph or gold_docs")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--limit", type=int, default=None, help="only the first N questions")
    p.add_argument("--mode", choices=["hybrid", "dense", "sparse"], default="hybrid")
    p.add_argument("--answers", action="store_true", help="also run ask: answer-contains rate, citation precision")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("status", help="what the archive holds")
    p.add_argument("--json", action="store_true")

    from . import cli_ops

    cli_ops.add_parsers(sub)
    return parser


def _print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def _filters_from(args: argparse.Namespace):
    from .service import Filters

    return Filters(lang=args.lang, source=args.source, since=args.since, until=args.until)


def run(args: argparse.Namespace) -> int:
    settings = load_settings(data_dir=getattr(args, "data_dir", None), config=getattr(args, "config", None))
    if args.command == "serve":
        settings = settings.with_overrides(host=args.host, port=args.port)
        from .api import serve

        serve(settings)
        return 0

    if args.command == "eval":
        from .evaluate import run_eval

        result = run_eval(settings, args.corpus, args.questions, k=args.k, limit=args.limit, answers=args.answers, mode=args.mode)
        if args.json:
            _print_json(result)
        else:
            for lang, m in [("all", result["overall"]), *result["by_language"].items()]:
                print(f"{lang}: " + ", ".join(f"{key} {value}" for key, value in m.items()))
        return 0

    from . import cli_ops

    if args.command in cli_ops.COMMANDS:
        return cli_ops.run(args, settings)

    from .service import Assistant

    assistant = Assistant(settings)
    try:
        if args.command == "ingest":
            from .progress import ProgressPrinter

            report = assistant.ingest(args.paths, progress=None if args.json else ProgressPrinter(), prune=args.prune)
            if args.json:
                _print_json(report.to_dict())
            else:
                print(
                    f"ingested {report.ingested}, updated {report.updated}, unchanged {report.unchanged}, pruned {report.pruned}, "
                    f"failed {len(report.failed)}, chunks {report.chunks}, {report.elapsed:.1f} s"
                )
                for f in report.failed:
                    print(f"  failed: {f['path']}: {f['error']}")
            return 1 if args.strict and report.failed else 0
        if args.command == "search":
            results = assistant.search(args.query, _filters_from(args), k=args.k, mode=args.mode)
            if args.json:
                _print_json({"results": [_result(p) for p in results]})
            else:
                for i, p in enumerate(results, 1):
                    print(f"{i}. {p.title} — {p.source} {(p.published or '')[:10]} [{p.lang}] score {p.score:.4f}")
                    print(f"   {p.text[:200].replace(chr(10), ' ')}")
            return 0
        if args.command == "ask":
            answer = assistant.ask(args.question, _filters_from(args))
            if args.json:
                _print_json(answer.to_dict())
            else:
                print(answer.answer)
                for c in answer.citations:
                    print(f"[{c.n}] {c.title} — {c.source} {(c.published or '')[:10]} {c.url}")
                for w in answer.warnings:
                    print(f"warning: {w}", file=sys.stderr)
            return 0
        if args.command == "status":
            info = assistant.status()
            if args.json:
                _print_json(info)
            else:
                for key, value in info.items():
                    print(f"{key}: {value}")
            return 0
    finally:
        assistant.close()
    return 2


def _result(p) -> dict[str, Any]:
    keys = ("article_id", "chunk_id", "title", "source", "url", "published", "lang", "text", "start", "end", "score")
    return {k: getattr(p, k) for k in keys}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if getattr(args, "verbose", False) else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return run(args)
    except NewsroomError as exc:
        print(f"newsroom: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("newsroom: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
