"""Desks that hold (issue 16, items 2 and 5): an article is its (collection, id), so an upload
can neither replace, delete nor reveal another desk's or an embargoed article of the same id;
and BM25 scores are counted only over what the searching user may see, so a score never tells
whether a word occurs in hidden articles. Real stores, real ingests (the minilm embedder)."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest

from assistant.store.interface import EVERYTHING, SearchFilter
from conftest import write_jsonl

pytestmark = [
    pytest.mark.filterwarnings("ignore:Payload indexes have no effect in the local Qdrant"),
    pytest.mark.filterwarnings("ignore:Failed to obtain server version"),
]

PUBLIC = ("public",)
AFTER_EMBARGO = datetime(2100, 1, 1, tzinfo=timezone.utc)
INVESTIGATION = {"id": "inv-001", "collection": "investigations", "lang": "en", "published": "2025-03-01",
                 "title": "Ledgers of the harbour shell companies",
                 "body": "Ledgers seen by the investigations desk show that the harbour authority paid eleven "
                         "shell companies registered at one address in Limassol for dredging never carried out."}
EMBARGOED = {"id": "emb-001", "collection": "public", "lang": "en", "published": "2025-03-02",
             "embargo_until": "2099-01-01T00:00:00Z", "title": "Minister to resign on Friday",
             "body": "The transport minister will announce her resignation on Friday, two officials said, "
                     "after the audit of the tram contract found the tender had been rigged."}
PUBLIC_STORY = {"id": "pub-001", "collection": "public", "lang": "en", "published": "2025-03-03",
                "title": "Tram line opens", "body": "The city opened its new tram line on Monday after four "
                "years of works; the first trams carried commuters between the station and the university."}


def reporter_note(article_id: str, body: str = "A reporter's note about the tram timetable for the weekend.") -> dict:
    return {"id": article_id, "title": "Note", "body": body, "lang": "en", "published": "2025-04-01"}


@pytest.fixture(params=["edge", "server"])
def desks(request, assistant_factory, tmp_path):
    """The archive ingested by the CLI's path (trusted): an investigation, an embargoed story, a public one."""
    flags = {"embedders": "minilm"}
    if request.param == "server":
        flags.update(qdrant_url=":memory:", collection="desks")
    a = assistant_factory(**flags)
    report = a.ingest([write_jsonl(tmp_path / "archive.jsonl", [INVESTIGATION, EMBARGOED, PUBLIC_STORY])])
    assert not report.failed and report.ingested == 3
    return a


def upload(a, tmp_path, name: str, rows: list[dict]) -> dict:
    """A reporter's upload into "public", as the HTTP route and the Library tab send it."""
    report = a.ingest([write_jsonl(tmp_path / name, rows)], collection="public", untrusted=True)
    assert not report.failed
    return {k: v for k, v in report.to_dict().items() if k != "elapsed"}


def chunks_of(a, collection: str, article_id: str, now: datetime = AFTER_EMBARGO) -> list[tuple[str, str]]:
    flt = SearchFilter(collections=(collection,), article_ids=(article_id,), now=now)
    return sorted((p["content_hash"], p["text"]) for p in a.store.scroll(flt, ["content_hash", "text"]))


def test_two_desks_holding_the_same_id_both_stay_findable(desks, tmp_path):
    a = desks
    inv_before = chunks_of(a, "investigations", "inv-001")
    same_id = {**PUBLIC_STORY, "id": "inv-001", "title": "Commuters on the tram",
               "body": "Commuters praised the new tram line on its first Monday; four years of works had "
                       "closed the avenue to cars, and shop owners along it lost trade."}
    report = a.ingest([write_jsonl(tmp_path / "public.jsonl", [same_id])])
    assert (report.ingested, report.updated) == (1, 0)  # a new article: the id is another desk's
    assert chunks_of(a, "investigations", "inv-001") == inv_before
    found = a.search("shell companies paid for dredging in Limassol", collections=("investigations",))
    assert found[0].key == ("investigations", "inv-001") and "Ledgers" in found[0].text
    found = a.search("new tram line opened on Monday", collections=PUBLIC)
    assert {p.key for p in found[:2]} == {("public", "inv-001"), ("public", "pub-001")}
    # Both count as articles: status, holdings and the per-article cap see (collection, id).
    assert a.status()["articles"] == 3 and a.holdings()["articles"] == 3
    both = a.search("tram line shell companies ledgers", k=10)
    assert {("investigations", "inv-001"), ("public", "inv-001")} <= {p.key for p in both}
    # Writing to the other desk again leaves this one as it is.
    edited = {**INVESTIGATION, "body": INVESTIGATION["body"] + " The authority denies it."}
    assert a.ingest([write_jsonl(tmp_path / "inv.jsonl", [edited])]).updated == 1
    assert [p.key for p in a.phrase("four years of works")] == [("public", "inv-001"), ("public", "pub-001")]


def test_an_upload_of_another_desks_id_leaves_it_untouched_and_reports_a_new_article(desks, tmp_path):
    a = desks
    before = chunks_of(a, "investigations", "inv-001")
    fresh = upload(a, tmp_path, "fresh.jsonl", [reporter_note("note-777")])
    taken = upload(a, tmp_path, "taken.jsonl", [reporter_note("inv-001")])
    assert taken == fresh and (taken["ingested"], taken["updated"]) == (1, 0)
    assert chunks_of(a, "investigations", "inv-001") == before
    assert [p.key for p in a.phrase("harbour authority paid eleven", collections=("investigations",))] == [
        ("investigations", "inv-001")]


def test_an_upload_of_an_embargoed_id_neither_deletes_nor_alters_it_nor_reveals_it(desks, tmp_path):
    a = desks
    embargoed = chunks_of(a, "public", "emb-001")
    assert embargoed and chunks_of(a, "public", "emb-001", now=datetime.now(timezone.utc)) == []
    # The same three uploads with a fresh id and with the embargoed one: the same reports.
    for name, body in (("first", None), ("again", None), ("edited", "A reporter's note: tram timetable changed.")):
        rows = [reporter_note("x", body) if body else reporter_note("x")]
        fresh = upload(a, tmp_path, f"fresh-{name}.jsonl", [{**r, "id": "note-888"} for r in rows])
        hidden = upload(a, tmp_path, f"hidden-{name}.jsonl", [{**r, "id": "emb-001"} for r in rows])
        assert hidden == fresh, name
    assert (hidden["updated"], fresh["updated"]) == (1, 1)
    # Once the embargo has passed, the story is there as it was, beside the reporter's note.
    after = chunks_of(a, "public", "emb-001")
    assert [c for c in after if c in embargoed] == embargoed
    assert {h for h, _ in after} - {h for h, _ in embargoed}  # the reporter's (visible) version
    assert "rigged" in " ".join(t for _, t in after)


def test_a_trusted_reingest_still_updates_in_place(desks, tmp_path):
    a = desks
    old_hash = chunks_of(a, "public", "emb-001")[0][0]
    rows = [{**INVESTIGATION, "title": "Ledgers (updated)"}, {**EMBARGOED, "title": "Minister to resign (updated)"},
            PUBLIC_STORY]
    report = a.ingest([write_jsonl(tmp_path / "archive.jsonl", rows)])
    assert (report.ingested, report.updated, report.unchanged) == (0, 2, 1)
    versions = a.store.article_versions([("public", "emb-001"), ("investigations", "inv-001")], EVERYTHING)
    assert len(versions[("public", "emb-001")]) == 1 and old_hash not in versions[("public", "emb-001")]
    assert len(versions[("investigations", "inv-001")]) == 1
    assert a.ingest([write_jsonl(tmp_path / "archive.jsonl", rows)]).unchanged == 3


def test_an_untrusted_write_cannot_prune(desks, tmp_path):
    with pytest.raises(ValueError, match="prune"):
        desks.ingest([write_jsonl(tmp_path / "n.jsonl", [reporter_note("n")])], prune=True, untrusted=True)


def test_default_collection_point_ids_are_unchanged():
    """A single-desk store keeps its point ids (nothing re-embedded): the formula before desks, pinned."""
    from ingest.article import Article, chunk_point_id
    from ingest.chunking import chunk_text
    from ingest.payload import chunk_payload

    namespace = uuid.UUID("6f1c1b6e-4d8a-4c47-9a59-3f3e1c0b7a21")
    digest = "0123456789abcdef" * 4
    # uuid5(namespace, "seed-1\x1f2\x1f" + digest[:16]), as every store so far holds it
    before = "3b0615a8-ec53-550d-9e02-ddf7614031a8"
    assert chunk_point_id("seed-1", 2, digest) == chunk_point_id("seed-1", 2, digest, "default") == before
    assert chunk_point_id("seed-1", 2, digest, "public") != before
    article = Article(id="seed-1", title="T", body="Some body text for one chunk.")
    chunk = chunk_text(article.body)[0]
    payload = chunk_payload(article, chunk, 1, article.content_hash())
    assert payload["chunk_id"] == str(uuid.uuid5(namespace, f"seed-1\x1f0\x1f{article.content_hash()[:16]}"))


@pytest.mark.parametrize("kind", ["edge", "server"])
def test_bm25_scores_do_not_tell_whether_a_word_occurs_in_hidden_articles(kind, assistant_factory, tmp_path):
    """The red team's probe: one-word notes uploaded to "public", searched in sparse mode by a
    reporter who sees only "public". Before: 6.90 (word nowhere else), 5.54 (only in the embargoed
    article), 4.04 (in two hidden articles). Now the three scores are the same."""
    flags = {"embedders": "minilm"}
    if kind == "server":
        flags.update(qdrant_url=":memory:", collection="probe")
    a = assistant_factory(**flags)
    hidden = [
        {**EMBARGOED, "body": EMBARGOED["body"] + " Codename quokkagate."},
        {**INVESTIGATION, "body": INVESTIGATION["body"] + " Codename marmotgate."},
        {**INVESTIGATION, "id": "inv-002", "body": "A second ledger names marmotgate again."},
        PUBLIC_STORY,
    ]
    assert a.ingest([write_jsonl(tmp_path / "archive.jsonl", hidden)]).ingested == 4
    words = ("wombatgate", "quokkagate", "marmotgate")  # nowhere else; embargoed only; two hidden articles
    upload(a, tmp_path, "notes.jsonl", [{"id": f"probe-{w}", "title": w, "body": w, "lang": "en"} for w in words])
    scores = {}
    for w in words:
        hits = a.search(w, mode="sparse", collections=PUBLIC)
        assert [p.article_id for p in hits] == [f"probe-{w}"]
        scores[w] = hits[0].score
    assert len(set(scores.values())) == 1, scores
    # The editor, who sees the investigations desk, gets that desk's statistics: rarer is higher.
    editor = {w: a.search(w, mode="sparse", collections=("public", "investigations"))[0].score for w in words}
    assert editor["wombatgate"] == editor["quokkagate"] > editor["marmotgate"]
