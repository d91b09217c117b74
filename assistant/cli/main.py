"""The `newsroom` command: its parser, and a table of its verbs (ingest, search, ask, check, quote,
serve, mcp, eval, status, llm-check and the operations verbs)."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ..errors import ConfigError, NewsroomError
from ..settings import Settings, load_settings
from . import operations

if TYPE_CHECKING:
    from ..service import Assistant


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
    p.add_argument("--via", metavar="URL", help="send the files to the running app at URL (e.g. http://127.0.0.1:7860)")
    p.add_argument("--collection", help="put the articles in this collection (instead of their own)")
    p.add_argument("--workers", type=int, default=None, help="parser processes (NEWSROOM_INGEST_WORKERS; 0: parse in this process)")

    p = sub.add_parser("search", help="find passages")
    p.add_argument("query")
    p.add_argument("--k", type=int, default=None, help="how many passages (default NEWSROOM_TOP_K)")
    p.add_argument("--mode", choices=["hybrid", "dense", "sparse"], default="hybrid")
    p.add_argument("--exact", action="store_true",
                   help="every article containing QUERY word for word (not top-k), earliest first")
    _filters(p)

    p = sub.add_parser("ask", help="answer a question with citations")
    p.add_argument("question")
    _filters(p)

    p = sub.add_parser("check", help="find the passages that support, contradict or mention a claim")
    p.add_argument("claim")
    _filters(p)

    p = sub.add_parser("quote", help="where a quotation or figure appears in the archive, earliest first")
    p.add_argument("words")
    _filters(p)

    p = sub.add_parser("serve", help="run the web app and HTTP API")
    p.add_argument("--host", default=None)
    p.add_argument("--port", type=int, default=None)

    p = sub.add_parser("mcp", help="serve the archive's tools to AI assistants (Model Context Protocol)")
    p.add_argument("--transport", choices=["stdio", "http"], default="stdio", help="http: streamable HTTP at /mcp")
    p.add_argument("--user", help="stdio with logins on: run as this user of the users file (their collections)")
    p.add_argument("--host", default=None)
    p.add_argument("--port", type=int, default=None)

    p = sub.add_parser("hash-password", help="print a password hash for the users file (reads the password from stdin)")

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

    p = sub.add_parser("llm-check", help="probe the configured LLM endpoint and print a compatibility report")
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")

    operations.add_parsers(sub)
    return parser


def _print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def _filters_from(args: argparse.Namespace):
    from ..service import Filters

    return Filters(lang=args.lang, source=args.source, since=args.since, until=args.until)


# -- the verbs ------------------------------------------------------------------------------
# Each verb runs over the settings; the verbs over the archive get an Assistant, closed after.
Verb = Callable[[argparse.Namespace, Settings], int]


def _on_archive(verb: Callable[[Assistant, argparse.Namespace], int]) -> Verb:
    """``verb`` over an Assistant opened on ``settings`` (and closed when it returns or fails)."""

    def run(args: argparse.Namespace, settings: Settings) -> int:
        from ..service import Assistant

        assistant = Assistant(settings)
        try:
            return verb(assistant, args)
        finally:
            assistant.close()

    return run


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from ..api.server import serve

    serve(settings.with_overrides(host=args.host, port=args.port))
    return 0


def _mcp(args: argparse.Namespace, settings: Settings) -> int:
    from ..api.mcp_server import serve_mcp

    serve_mcp(settings.with_overrides(host=args.host, port=args.port), args.transport, args.user)
    return 0


def _eval(args: argparse.Namespace, settings: Settings) -> int:
    from .evaluate import run_eval

    result = run_eval(settings, args.corpus, args.questions, k=args.k, limit=args.limit, answers=args.answers, mode=args.mode)
    if args.json:
        _print_json(result)
    else:
        for lang, m in [("all", result["overall"]), *result["by_language"].items()]:
            print(f"{lang}: " + ", ".join(f"{key} {value}" for key, value in m.items()))
    return 0


def _llm_check(args: argparse.Namespace, settings: Settings) -> int:
    from . import llm_check

    return llm_check.run(args, settings)


def _ingest(args: argparse.Namespace, settings: Settings) -> int:
    """Into the local store, or with ``--via`` into a running app's."""
    if args.via:
        if args.prune:
            raise ConfigError("--prune works on the local store only; run it where the store is, without --via")
        from .ingest_via import ingest_via
        from .progress import ProgressPrinter

        report = ingest_via(args.via, args.paths, settings, args.collection, None if args.json else ProgressPrinter())
        return _print_report(report, args)
    if args.workers is not None:
        settings = settings.with_overrides(ingest_workers=args.workers)
    return _on_archive(_ingest_here)(args, settings)


def _ingest_here(assistant: Assistant, args: argparse.Namespace) -> int:
    from .progress import ProgressPrinter

    report = assistant.ingest(args.paths, progress=None if args.json else ProgressPrinter(), prune=args.prune,
                              collection=args.collection)
    return _print_report(report, args)


def _search(assistant: Assistant, args: argparse.Namespace) -> int:
    if args.exact:
        results = assistant.phrase(args.query, _filters_from(args))
        if args.json:
            _print_json({"exact": args.query, "count": len(results), "results": [p.to_result() for p in results]})
        else:
            print(f"{len(results)} article(s) contain \"{args.query}\"")
            for i, p in enumerate(results, 1):
                print(f"{i}. {(p.published or 'undated')[:10]} {p.title} — {p.source} [{p.lang}] {p.url}")
                print(f"   {p.text[:200].replace(chr(10), ' ')}")
        return 0
    results = assistant.search(args.query, _filters_from(args), k=args.k, mode=args.mode)
    if args.json:
        _print_json({"results": [p.to_result() for p in results]})
    else:
        for i, p in enumerate(results, 1):
            print(f"{i}. {p.title} — {p.source} {(p.published or '')[:10]} [{p.lang}] score {p.score:.4f}")
            if p.duplicates:
                print(f"   same story in {len(p.duplicates)} more: " + ", ".join(
                    f"{d['source']} {(d.get('published') or '')[:10]}".strip() for d in p.duplicates))
            print(f"   {p.text[:200].replace(chr(10), ' ')}")
    return 0


def _ask(assistant: Assistant, args: argparse.Namespace) -> int:
    answer = assistant.ask(args.question, _filters_from(args))
    if args.json:
        _print_json(answer.to_dict())
    else:
        if answer.follows:
            print(f"(following up on: {answer.follows})")
        print(answer.answer)
        for c in answer.citations:
            print(f"[{c.n}] {c.title} — {c.source} {(c.published or '')[:10]} {c.url}")
        for w in answer.warnings:
            print(f"warning: {w}", file=sys.stderr)
    return 0


def _check(assistant: Assistant, args: argparse.Namespace) -> int:
    result = assistant.check(args.claim, _filters_from(args))
    _print_json(result.to_dict()) if args.json else _print_check(result)
    return 0


def _quote(assistant: Assistant, args: argparse.Namespace) -> int:
    found = assistant.quote(args.words, _filters_from(args))
    _print_json(found.to_dict()) if args.json else _print_quotes(found)
    return 0


def _status(assistant: Assistant, args: argparse.Namespace) -> int:
    info = assistant.status()
    if args.json:
        _print_json(info)
    else:
        for key, value in info.items():
            print(f"{key}: {value}")
    return 0


VERBS: dict[str, Verb] = {
    "ingest": _ingest,
    "search": _on_archive(_search),
    "ask": _on_archive(_ask),
    "check": _on_archive(_check),
    "quote": _on_archive(_quote),
    "serve": _serve,
    "mcp": _mcp,
    "eval": _eval,
    "status": _on_archive(_status),
    "llm-check": _llm_check,
    **dict.fromkeys(operations.COMMANDS, operations.run),
}


def run(args: argparse.Namespace) -> int:
    """Run the verb ``args.command`` names; ``hash-password`` reads no settings."""
    if args.command == "hash-password":
        return _hash_password()
    settings = load_settings(data_dir=getattr(args, "data_dir", None), config=getattr(args, "config", None))
    verb = VERBS.get(args.command)
    return verb(args, settings) if verb else 2


def _hash_password() -> int:
    import getpass

    from ..auth import hash_password

    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            raise NewsroomError("the two passwords differ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise NewsroomError("the password is empty")
    print(hash_password(password))
    return 0


def _print_check(result) -> None:
    if result.verdict:
        print(f"verdict: {result.verdict}")
    if result.explanation:
        print(result.explanation)
    n = 0
    for stance, items in result.by_stance().items():
        if items:
            print(f"\n{stance} ({len(items)}):")
        for e in items:
            n += 1
            p = e.passage
            print(f"[{n}] {(p.published or '')[:10]} {p.source} — {p.title} ({e.reason})")
            print(f"    {e.quote}")
    for w in result.warnings:
        print(f"warning: {w}", file=sys.stderr)


def _print_quotes(found) -> None:
    if not found.hits:
        print("not found in the archive")
        return
    if not found.exact:
        print("no exact match; close wordings:")
    for h in found.hits:
        p = h.passage
        who = f" — {h.speaker}" if h.speaker else ""
        print(f"{(p.published or '')[:10]} {p.source} — {p.title}{who}")
        print(f"    {h.quote}")


def _print_report(report, args: argparse.Namespace) -> int:
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

