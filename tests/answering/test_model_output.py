"""Reading what models write: citation forms, reasoning, Markdown, refusals, the streamed preview."""
from __future__ import annotations

import pytest

from assistant.answering.model_output import Preview, is_refusal, normalize_citations, read_completion, split_reasoning


@pytest.mark.parametrize("written, read", [
    ("signé [1, 2].", "signé [1][2]."),
    ("signé [1,2].", "signé [1][2]."),
    ("signé [1-3].", "signé [1][2][3]."),
    ("signé [1][2].", "signé [1][2]."),
    ("签署【1】。", "签署[1]。"),
    ("签署［2］。", "签署[2]。"),
    ("signé.[^1]", "signé [1]."),
    ("signé [Source 2].", "signé [2]."),
    ("签署[来源1]。", "签署[1]。"),
    ("signé [Sources 1 et 3].", "signé [1][3]."),
    ("signed [doc2].", "signed [2]."),
    ("signed【1†source】.", "signed[1]."),
    ("signed (2).", "signed [2]."),
    ("signed (source 2) in May.", "signed [2] in May."),
    ("signed. [1] It rained. [2]", "signed [1]. It rained [2]."),
    ("signed.<sup>2</sup>", "signed [2]."),
    ("signed [[1]].", "signed [1]."),
])
def test_citation_forms_become_bracketed_numbers(written, read):
    assert normalize_citations(written, n_sources=3) == read


@pytest.mark.parametrize("text", [
    "(1) first, (2) second.",  # an enumeration, not citations
    "It was founded in (2019).",
    "The law has three articles (7).",  # no source 7 was given
    "Range [1-40] of the survey.",  # a range too long to be citations
    "The score was 3 [sic] in 2019.",
])
def test_ambiguous_numbers_are_left_alone(text):
    assert normalize_citations(text, n_sources=3) == text


def test_reasoning_blocks_in_every_form_are_taken_out():
    assert split_reasoning("<think>a</think>B [1].") == ("B [1].", "a", False)
    assert split_reasoning("a plan\n</think>\n\nB [1].")[0].strip() == "B [1]."  # the template opened it
    assert split_reasoning("[THINK]a[/THINK]B") == ("B", "a", False)
    assert split_reasoning("<think>still going") == ("", "still going", True)
    answer, reasoning, _ = split_reasoning("<|channel|>analysis<|message|>plan<|end|><|start|>assistant<|channel|>final"
                                           "<|message|>B [1].<|return|>")
    assert answer == "B [1]." and "plan" in reasoning


def test_markdown_is_flattened_and_the_source_list_dropped():
    c = read_completion("**Answer:** two signed:\n\n1. **Yu Yingfu** [1]\n2. Liu Tao [2]\n\n### Sources\n[1] A title\n[2] B", 2)
    assert c.text == "two signed:\nYu Yingfu [1]\nLiu Tao [2]"
    assert any("list of sources" in n for n in c.notes)


@pytest.mark.parametrize("sentence", [
    "The provided sources do not mention who signed the agreement.",
    "I cannot answer this question from the sources given.",
    "Les sources fournies ne précisent pas qui a signé l'accord.",
    "Aucune information sur la date ne figure dans les sources.",
    "提供的资料中没有提到签署人。",
    "无法从来源中确定投产时间。",
    "Las fuentes no mencionan la fecha.",
    "Die Quellen nennen keinen Preis.",
    "Je ne peux pas répondre à partir de ces documents.",
])
def test_refusals_are_recognised(sentence):
    assert is_refusal(sentence)


@pytest.mark.parametrize("sentence", [
    "The ministry did not mention the cost.",
    "Yu Yingfu et Liu Tao ont signé l'accord au nom des deux parties.",
    "The council gave no details of the route.",
    "Aucune information n'a été donnée par la police.",
    "Die Polizei machte keine Angaben zur Ursache.",
    "公司未说明裁员原因。",
    "Il est impossible de déterminer la cause de l'incendie, selon les pompiers.",
    "江川市新能源电池工厂今年三月正式投产。",
])
def test_facts_are_not_taken_for_refusals(sentence):
    assert not is_refusal(sentence)


def _stream(preview: Preview, pieces: list[str]) -> list[str]:
    shown = [preview.feed(p) for p in pieces] + [preview.finish()]
    return [s for s in shown if s]


def test_the_preview_reassembles_a_split_citation_and_shows_only_cited_sentences():
    pieces = ["Here is what I found. ", "Yu Yingfu signed ", "[", "1", "]", ". The sources do not ",
              "say when. ", "Liu Tao signed ", "【", "2", "】", "."]
    shown = _stream(Preview(2), pieces)
    assert shown[0] == "Yu Yingfu signed [1]"
    assert "".join(shown) == "Yu Yingfu signed [1]. Liu Tao signed [2]."


def test_the_preview_never_shows_reasoning_in_tags_or_split_tags():
    pieces = ["<th", "ink>Source 1 [1] says", " so.</thi", "nk>Yu signed [1", "]."]
    assert "".join(_stream(Preview(1), pieces)) == "Yu signed [1]."


def test_the_preview_numbers_sources_as_the_checked_answer_does():
    pieces = ["Yu signed [3]. ", "A source not given [9]. ", "Liu signed [1][3]."]
    assert "".join(_stream(Preview(3), pieces)) == "Yu signed [1]. Liu signed [2][1]."
