"""`newsroom llm-check`: probe the configured LLM endpoint and report what LLM mode will get.

Five probes, each a line a newsroom's IT can act on: the models list, a short completion,
streaming, reasoning output, and whether the model cites a tiny built-in source in a form the
citation check reads. Nothing from the archive is sent.
"""
from __future__ import annotations

import argparse
import json
import re
import time
from dataclasses import asdict, dataclass, field
from datetime import date

from ..answering import prompts
from ..answering.llm import ChatModel
from ..answering.model_output import read_completion, split_reasoning
from ..errors import ConfigError, NewsroomError
from ..settings import Settings

# The built-in source the citation probe gives: invented, so only the source can answer.
PROBE_SOURCE = ('<source n="1" title="Portmere ferry timetable changes in May" outlet="Portmere Gazette" '
                'date="2025-04-02" lang="en">\nThe Portmere ferry timetable changes on 5 May, with an extra crossing '
                'every evening at nine. The harbour master, Ann Hale, announced the change on Tuesday.\n</source>')
PROBE_QUESTION = "When does the Portmere ferry timetable change?"
PROBE_MAX_TOKENS = 300  # room for a short answer, and for a thinking model to finish thinking
_CANONICAL_RE = re.compile(r"\[1\]")


@dataclass
class Probe:
    name: str
    status: str  # ok | warn | fail | info
    detail: str
    advice: str = ""


@dataclass
class Report:
    endpoint: str
    model: str
    probes: list[Probe] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        return not any(p.status == "fail" for p in self.probes)

    def to_dict(self) -> dict:
        return {**asdict(self), "usable": self.usable}

    def text(self) -> str:
        lines = [f"LLM endpoint {self.endpoint}, model {self.model}"]
        width = max(len(p.name) for p in self.probes) if self.probes else 0
        for p in self.probes:
            lines.append(f"  {p.status:<4}  {p.name:<{width}}  {p.detail}")
            if p.advice:
                lines.append(f"        {'':<{width}}  → {p.advice}")
        lines.append("verdict: " + ("usable for LLM mode" if self.usable else "not usable for LLM mode: see the failures above"))
        return "\n".join(lines)


def _models(model: ChatModel) -> Probe:
    try:
        ids = [m.id for m in model.client().models.list()]
    except Exception as exc:  # noqa: BLE001 - a probe reports, it does not stop the others
        return Probe("models", "warn", f"the models list failed ({type(exc).__name__})",
                     "not needed for answers; Ollama, vLLM, llama.cpp, LM Studio and OpenAI all serve GET /v1/models")
    name = model.settings.llm_model
    if name in ids:
        return Probe("models", "ok", f"{len(ids)} model(s); '{name}' is listed")
    shown = ", ".join(ids[:5]) + (" ..." if len(ids) > 5 else "")
    return Probe("models", "warn", f"'{name}' is not among the {len(ids)} listed ({shown})",
                 "set NEWSROOM_LLM_MODEL to a listed name (single-model servers such as llama.cpp answer to any name)")


def _stream(model: ChatModel, system: str, user: str, max_tokens: int) -> tuple[str, str, int, float | None, float, str | None]:
    """(text, reasoning, pieces, seconds to the first piece, seconds in all, finish_reason)."""
    start = time.monotonic()
    first = None
    text, reasoning, pieces, finish = [], [], 0, None
    for d in model.stream(system, user, max_tokens):
        if (d.text or d.reasoning) and first is None:
            first = time.monotonic() - start
        pieces += bool(d.text or d.reasoning)
        text.append(d.text)
        reasoning.append(d.reasoning)
        finish = d.finish_reason or finish
    return "".join(text), "".join(reasoning), pieces, first, time.monotonic() - start, finish


def check_endpoint(settings: Settings) -> Report:
    """Run the probes against the configured endpoint (NEWSROOM_LLM_*)."""
    if not settings.llm_base_url and not settings.llm_api_key:
        raise ConfigError("no LLM endpoint is configured: set NEWSROOM_LLM_BASE_URL (and NEWSROOM_LLM_MODEL)")
    model = ChatModel(settings)
    report = Report(model.where, settings.llm_model, [_models(model)])
    try:
        text, _, pieces, first, total, finish = _stream(model, "", "Reply with the single word OK.", 16)
    except NewsroomError as exc:
        report.probes.append(Probe("completion", "fail", str(exc),
                                   "check NEWSROOM_LLM_BASE_URL, NEWSROOM_LLM_API_KEY and NEWSROOM_LLM_MODEL"))
        return report
    answer = split_reasoning(text)[0].strip()
    report.probes.append(Probe("completion", "ok", f"{total:.2f} s: {answer[:60]!r}" if answer else f"{total:.2f} s, empty text",
                               "" if answer else "the model wrote nothing in 16 tokens: a thinking model may need more"))
    user = prompts.render("answer", today=date.today().isoformat(), sources=PROBE_SOURCE, question=PROBE_QUESTION)
    try:
        text, reasoning, pieces, first, total, finish = _stream(model, prompts.render("system"), user, PROBE_MAX_TOKENS)
    except NewsroomError as exc:
        report.probes.append(Probe("citations", "fail", f"the answer request failed: {exc}"))
        return report
    report.probes.append(Probe(
        "streaming", "ok" if pieces > 1 and finish else "warn",
        f"{pieces} piece(s), the first after {first or 0:.2f} s, finish_reason {finish}",
        "" if pieces > 1 else "the app streams answers as they are written; this endpoint sent the answer in one piece"))
    report.probes.append(_reasoning(text, reasoning))
    report.probes.append(_citations(text, total, finish))
    report.probes.append(Probe("request", "info", "adapted: " + ", ".join(model.adaptations) if model.adaptations
                               else "the standard request (max_tokens, temperature 0, no stream_options) was accepted"))
    return report


def _reasoning(text: str, reasoning: str) -> Probe:
    if reasoning:
        return Probe("reasoning", "info", f"{len(reasoning)} characters in a separate reasoning field: never shown")
    _, inline, unfinished = split_reasoning(text)
    if unfinished:
        return Probe("reasoning", "fail", "the model was still thinking when its token limit was reached",
                     "turn thinking off (e.g. /no_think, Ollama think=false) or use the server's reasoning parser")
    if inline:
        return Probe("reasoning", "warn", f"{len(inline)} characters of thinking inside the answer text: the app hides them",
                     "they cost time on every answer: use the server's reasoning parser (vLLM --reasoning-parser, "
                     "llama.cpp --reasoning-format) or turn thinking off")
    return Probe("reasoning", "info", "none seen")


def _citations(text: str, seconds: float, finish: str | None) -> Probe:
    answer = split_reasoning(text)[0]
    read = read_completion(text, n_sources=1).text
    where = f"{seconds:.1f} s, {len(answer)} characters"
    if finish == "length" and not _CANONICAL_RE.search(read):
        return Probe("citations", "fail", f"{where}: cut at the token limit before citing",
                     "raise the server's context or output limit, or use a model that answers briefly")
    if _CANONICAL_RE.search(answer):
        return Probe("citations", "ok", f"{where}: cites as [1], as asked")
    if _CANONICAL_RE.search(read):
        form = re.search(r"[\[【［(（<][^\]】］)）>]{0,12}1[^\]】］)）>]{0,12}[\]】］)）>]", answer)
        return Probe("citations", "ok", f"{where}: cites as {form.group(0) if form else 'another form'}, which the app reads as [1]")
    return Probe("citations", "fail", f"{where}: no citation the app can read: {answer.strip()[:80]!r}",
                 "answers would all be abstentions: use a larger instruct model (7B or more follows the citation rules)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    """The CLI verb: print the report (or JSON); exit 0 when usable, 4 when a probe failed."""
    report = check_endpoint(settings)
    print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2) if args.json else report.text())
    return 0 if report.usable else 4
