"""Completions as open models write them (tests/replay/completions.yaml), replayed through the
fixture OpenAI-compatible server: for each, what the answer and the streamed preview show."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from assistant.errors import BackendError
from llm_server import Reply, ScriptedLLM

REPLAY = Path(__file__).parents[1] / "replay"
CASES = yaml.safe_load((REPLAY / "completions.yaml").read_text(encoding="utf-8"))["cases"]
TITLES = {r["id"]: r["title"] for r in map(json.loads, (REPLAY / "archive.jsonl").read_text(encoding="utf-8").splitlines())}
PIECE_CHARS = 5  # small pieces: citations arrive split across them


def _source_numbers(user_message: str) -> dict[str, int]:
    """Article id -> its number among the sources the prompt gave."""
    by_title = {title: int(n) for n, title in re.findall(r'<source n="(\d+)" title="([^"]*)"', user_message)}
    return {aid: by_title[t] for aid, t in TITLES.items() if t in by_title}


def _reply(case: dict, user_message: str) -> Reply:
    numbers = _source_numbers(user_message)
    k = numbers[case["article"]]
    o = next(n for n in sorted(numbers.values()) if n != k)

    def fill(text: str) -> str:
        return text.replace("{k}", str(k)).replace("{o}", str(o))

    content = fill(case.get("content", ""))
    pieces = [fill(p) for p in case["pieces"]] if "pieces" in case else \
        [content[i : i + PIECE_CHARS] for i in range(0, len(content), PIECE_CHARS)]
    return Reply(content, pieces, [fill(r) for r in case.get("reasoning", [])],
                 case.get("reasoning_field", "reasoning_content"), case.get("break_after"),
                 case.get("finish_reason", "stop"))


@pytest.fixture(scope="module")
def replayed(tmp_path_factory):
    """Every case asked once: its preview pieces, its Answer and the reply the server sent."""
    from assistant.service import Assistant
    from assistant.settings import load_settings

    current: dict = {}

    def script(messages):
        current["reply"] = _reply(current["case"], messages[-1]["content"])
        return current["reply"]

    results = {}
    with ScriptedLLM(script) as server:
        a = Assistant(load_settings(env={}, data_dir=str(tmp_path_factory.mktemp("replay") / "data"), embedders="use",
                                    llm_base_url=server.base_url, llm_model="scripted", llm_timeout=20,
                                    llm_max_retries=0))
        try:
            report = a.ingest([REPLAY / "archive.jsonl"])
            assert not report.failed
            for case in CASES:
                current["case"] = case
                events: list = []
                try:
                    events.extend(a.ask_stream(case["question"]))
                except BackendError as exc:
                    events.append(exc)
                results[case["id"]] = (events[:-1], events[-1], current.get("reply"))
                current.pop("reply", None)
        finally:
            a.close()
    return results


def test_the_corpus_has_thirty_completions_in_three_languages():
    assert len(CASES) >= 30 and len({c["id"] for c in CASES}) == len(CASES)
    langs = {"zh" if re.search(r"[\u4e00-\u9fff]", c["question"]) else
             "fr" if re.search(r"[éèàç]|\bQui\b", c["question"]) else "en" for c in CASES}
    assert langs == {"en", "fr", "zh"}
    assert {"issue-think-then-english-list-citation", "issue-lenticular-brackets", "issue-footnote-after-full-stop",
            "issue-markdown-list"} <= {c["id"] for c in CASES}


def _assert_every_shown_sentence_is_cited_and_checked(answer) -> None:
    """The answer text is exactly its checked sentences, each with valid, renumbered citations."""
    assert answer.sentences, answer.answer
    assert answer.answer == " ".join(s.text + "".join(f" [{n}]" for n in s.citations) for s in answer.sentences)
    assert all(s.citations and all(1 <= n <= len(answer.citations) for n in s.citations) for s in answer.sentences)
    assert [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    for c in answer.citations:
        assert c.quote == c.text[c.quote_start - c.start : c.quote_end - c.start]


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_a_replayed_completion_shows_what_it_must(replayed, case):
    pieces, answer, reply = replayed[case["id"]]
    assert reply is not None, "the question never reached the model (answerability said no)"
    preview = "".join(pieces)
    if "error" in case:
        assert isinstance(answer, BackendError) and case["error"] in str(answer), answer
        assert preview == ""
        return
    assert answer.mode == "llm"
    assert answer.abstained == case.get("abstained", False), (answer.answer, answer.warnings)
    assert answer.partial == case.get("partial", False), answer.warnings
    for text in case.get("shows", []):
        assert text in answer.answer, (text, answer.answer)
    for text in case.get("hides", []) + [r for r in reply.reasoning]:
        assert text not in answer.answer and text not in preview, (text, answer.answer, preview)
    assert "<think" not in preview and "</think" not in preview
    if "warning" in case:
        assert any(case["warning"] in w for w in answer.warnings), answer.warnings
    if "why" in case:
        assert answer.why_abstained == case["why"]
    if answer.abstained:
        assert not answer.sentences and not answer.citations
        if not re.search(r"\[|【|\(", reply.content):
            assert preview == ""  # an uncited refusal is never previewed
        return
    _assert_every_shown_sentence_is_cited_and_checked(answer)
    supported = case.get("supported", True)
    if supported is True:
        assert all(s.supported for s in answer.sentences), [(s.text, s.support) for s in answer.sentences]
    elif supported is False:
        assert any(not s.supported for s in answer.sentences)
    # The preview starts at a citation: no preamble, reasoning or refusal is ever previewed.
    assert re.search(r"\[\d+\]", pieces[0]), pieces[:3]
