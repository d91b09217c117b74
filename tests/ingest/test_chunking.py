from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.text.sentences import sentences
from assistant.text.tokens import count_tokens
from ingest.chunking import chunk_text

MIXED = st.text(
    alphabet=st.sampled_from(list("abc XYZ.!?\n。！？，你好世界مرحبا привет 😀é\u200d\t")),
    max_size=3000,
)


@given(MIXED)
@settings(max_examples=200, deadline=None)
def test_offsets_reconstruct_the_text_and_never_reorder(text):
    chunks = chunk_text(text, max_tokens=40, min_tokens=20, overlap_tokens=8)
    for c in chunks:
        assert text[c.start : c.end] == c.text
        assert c.text.strip() == c.text and c.text
    starts = [c.start for c in chunks]
    assert starts == sorted(starts)
    # No text is lost: every non-space character lies inside some chunk.
    covered = set()
    for c in chunks:
        covered.update(range(c.start, c.end))
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())


def test_chinese_sentences_end_at_fullwidth_marks():
    text = "今天天气很好。我们去公园散步吧！你觉得怎么样？好"
    assert [text[s.start : s.end] for s in sentences(text)] == ["今天天气很好。", "我们去公园散步吧！", "你觉得怎么样？", "好"]


def test_abbreviations_and_initials_do_not_end_sentences():
    text = "Huawei Technologies Co., Ltd. (Huawei) signed. J. K. Rowling met Mr. Smith in the U.S. Then left."
    got = [text[s.start : s.end] for s in sentences(text)]
    assert got == ["Huawei Technologies Co., Ltd. (Huawei) signed.", "J. K. Rowling met Mr. Smith in the U.S.", "Then left."]


def test_chunks_stay_within_the_token_budget_in_every_script():
    para = "今天天气很好，我们去公园散步吧。" * 60 + "\n\n" + "The council voted to approve the budget on Monday. " * 60
    chunks = chunk_text(para, max_tokens=320, min_tokens=200, overlap_tokens=50)
    assert len(chunks) >= 4
    assert all(count_tokens(c.text) <= 320 for c in chunks)
    assert all(count_tokens(c.text) >= 100 for c in chunks[:-1])


def test_overlap_repeats_one_short_sentence():
    text = " ".join(f"Sentence number {i} is here." for i in range(200))
    chunks = chunk_text(text, max_tokens=60, min_tokens=40, overlap_tokens=10)
    assert any(chunks[i + 1].start < chunks[i].end for i in range(len(chunks) - 1))


def test_a_huge_sentence_is_cut_at_token_boundaries():
    text = "word " * 5000
    chunks = chunk_text(text, max_tokens=300)
    assert all(count_tokens(c.text) <= 300 for c in chunks)
    assert all(not c.text.startswith("ord") for c in chunks)


def test_empty_input_gives_no_chunks():
    assert chunk_text("") == [] and chunk_text("  \n\n ") == []


def test_embedded_text_carries_the_title_once():
    from datetime import datetime, timezone

    from ingest.article import Article
    from ingest.payload import embed_text

    body = "Flood waters rose in Wuhan on Monday.\n\nThe city closed three bridges. " * 40
    derived = Article(id="a", title=body.split("\n", 1)[0][:120], body=body)
    first, second = chunk_text(body, max_tokens=60, min_tokens=20, overlap_tokens=0)[:2]
    assert embed_text(derived, first, True) == first.text
    assert embed_text(derived, second, True) == f"{derived.title}\n{second.text}"
    given = Article(id="b", title="Wuhan floods", body=body, published=datetime(2021, 7, 20, tzinfo=timezone.utc))
    assert embed_text(given, first, True) == f"Wuhan floods (2021-07-20)\n{first.text}"
    dated = Article(id="c", title=derived.title, body=body, published=given.published)
    assert embed_text(dated, first, True) == f"(2021-07-20)\n{first.text}"
    assert embed_text(given, first, False) == first.text


def test_a_title_that_is_only_the_start_of_a_word_is_kept():
    from ingest.article import Article
    from ingest.payload import embed_text

    body = "Banking regulators met on Monday. " * 30
    first = chunk_text(body, max_tokens=60, min_tokens=20, overlap_tokens=0)[0]
    assert embed_text(Article(id="a", title="Bank", body=body), first, True) == f"Bank\n{first.text}"
    assert embed_text(Article(id="b", title="Banking regulators", body=body), first, True) == first.text


def test_bm25_weights_of_words_sharing_a_hash_add_up(monkeypatch):
    from assistant.embedders import sparse

    ids, weights = sparse.document_vector("harbour budget harbour tax")
    alone = dict(zip(ids, weights))
    assert len(ids) == 3 and alone[sparse._term_id("harbour")] > alone[sparse._term_id("tax")]
    real = sparse._term_id
    monkeypatch.setattr(sparse, "_term_id", lambda t: real("budget") if t == "tax" else real(t))
    ids, weights = sparse.document_vector("harbour budget harbour tax")
    merged = dict(zip(ids, weights))
    assert len(ids) == 2
    assert merged[real("budget")] == alone[real("budget")] + alone[real("tax")]
    assert merged[real("harbour")] == alone[real("harbour")]
