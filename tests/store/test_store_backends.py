"""One behaviour suite for every Store backend: embedded Qdrant Edge and a Qdrant server.

The server stands in as qdrant-client's in-memory mode (``qdrant_url=":memory:"``), which
runs the same client calls a real server gets. Vectors are real: BM25 sparse vectors
from ``assistant.embedders.sparse`` and small hand-made dense ones, so no model is loaded.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest

from assistant.embedders.sparse import document_vector, query_vector
from assistant.settings import load_settings
from assistant.store.factory import open_store
from assistant.store.interface import EVERYTHING, ChunkPoint, SearchFilter

pytestmark = [
    pytest.mark.filterwarnings("ignore:Payload indexes have no effect in the local Qdrant"),
    pytest.mark.filterwarnings("ignore:Failed to obtain server version"),
]

DIMS = {"a": 4, "b": 3}
FUTURE = "2999-01-01T00:00:00Z"
PAST = "2020-01-01T00:00:00Z"

# (key, text, lang, source, published, collection, embargo, dense a, dense b)
DOCS = [
    ("bundestag", "Der Bundestag hat das Haushaltsgesetz am Freitag verabschiedet", "de", "dpa",
     "2024-01-10T09:00:00Z", "default", None, [1, 0, 0, 0], [1, 0, 0]),
    ("bank", "The central bank raised interest rates again on Tuesday", "en", "reuters",
     "2024-03-05T12:00:00Z", "finance", None, [0, 1, 0, 0], [0, 1, 0]),
    ("mortgage", "Interest rates on mortgages fell sharply in spring", "en", "ap",
     "2024-05-20T08:30:00Z", "default", None, [0, 0.8, 0.6, 0], [0, 0.7, 0.7]),
    ("final", "Football club wins the championship final after extra time", "en", "ap",
     "2024-06-01T20:00:00Z", "sport", FUTURE, [0, 0, 0, 1], [0, 0, 1]),
    ("election", "Election results announced after a long night of counting", "en", "reuters",
     "2023-11-01T23:00:00Z", "default", PAST, [0, 0, 1, 0], [0.5, 0, 0.8]),
]


def _id(key: str, n: int = 0) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"test/{key}/{n}"))


def make_point(key, text, lang, source, published, collection, embargo, a, b, *, article=None, chash="h1", n=0):
    payload = {
        "article_id": article or key,
        "chunk_id": _id(article or key, n),
        "title": key.title(),
        "text": text,
        "lang": lang,
        "source": source,
        "published": published,
        "collection": collection,
        "content_hash": chash,
        "source_path": f"/archive/{key}.jsonl",
    }
    if embargo:
        payload["embargo_until"] = embargo
    return ChunkPoint(id=_id(article or key, n), dense={"a": [float(x) for x in a], "b": [float(x) for x in b]},
                      sparse=document_vector(text), payload=payload)


def _open(kind: str, tmp_path):
    if kind == "edge":
        settings = load_settings(env={}, data_dir=str(tmp_path / "data"))
    else:
        settings = load_settings(env={}, data_dir=str(tmp_path / "data"), qdrant_url=":memory:", collection="t")
    return open_store(settings, DIMS)


@pytest.fixture(params=["edge", "server"])
def store(request, tmp_path):
    s = _open(request.param, tmp_path)
    s.upsert([make_point(*d) for d in DOCS])
    yield s
    s.close()


def ids(hits) -> list[str]:
    return [h.payload["article_id"] for h in hits]


ALL = SearchFilter()


def test_backend_classes(tmp_path):
    from assistant.store.edge import EdgeStore
    from assistant.store.server import ServerStore

    for kind, cls in (("edge", EdgeStore), ("server", ServerStore)):
        s = _open(kind, tmp_path / kind)
        try:
            assert isinstance(s, cls)
        finally:
            s.close()


def test_dense_query_ranks_nearest_first(store):
    hits = store.query({"a": [0, 1, 0.05, 0]}, None, ALL, limit=3, candidates=10)
    assert ids(hits)[:2] == ["bank", "mortgage"]
    assert hits[0].score > hits[1].score
    assert "final" not in ids(hits)  # embargoed


def test_sparse_query_is_bm25(store):
    hits = store.query({}, query_vector("mortgages"), ALL, limit=5, candidates=10)
    assert ids(hits) == ["mortgage"]
    hits = store.query({}, query_vector("interest rates"), ALL, limit=5, candidates=10)
    assert set(ids(hits)) == {"bank", "mortgage"}


def test_hybrid_rrf_fuses_legs(store):
    q = {"a": [0, 1, 0, 0], "b": [0, 1, 0]}
    hits = store.query(q, query_vector("interest rates again"), ALL, limit=4, candidates=10)
    assert ids(hits)[0] == "bank"  # first in every leg
    assert ids(hits)[1] == "mortgage"
    # RRF with k=60 and ranks counted from 0: first in all three legs scores 3/60.
    assert hits[0].score == pytest.approx(3 / 60, rel=1e-4)


def test_hybrid_weights_shift_ranking(store):
    # With one candidate per leg: dense leg 'a' finds election, the sparse leg mortgage.
    dense = {"a": [0, 0, 1, 0]}
    sparse = query_vector("mortgages spring")
    toward_dense = store.query(dense, sparse, ALL, limit=2, candidates=1, weights={"a": 5.0, "bm25": 1.0})
    toward_sparse = store.query(dense, sparse, ALL, limit=2, candidates=1, weights={"a": 1.0, "bm25": 5.0})
    assert ids(toward_dense)[0] == "election"
    assert ids(toward_sparse)[0] == "mortgage"


def test_filters_lang_source_dates(store):
    dense = {"a": [0.5, 0.5, 0.5, 0.5]}
    assert set(ids(store.query(dense, None, SearchFilter(langs=("de",)), 10, 20))) == {"bundestag"}
    assert set(ids(store.query(dense, None, SearchFilter(sources=("reuters",)), 10, 20))) == {"bank", "election"}
    assert set(ids(store.query(dense, None, SearchFilter(article_ids=("bank", "final")), 10, 20))) == {"bank"}
    window = SearchFilter(since=datetime(2024, 3, 1, tzinfo=timezone.utc), until=datetime(2024, 5, 20, 8, 30, tzinfo=timezone.utc))
    assert set(ids(store.query(dense, None, window, 10, 20))) == {"bank", "mortgage"}  # both bounds inclusive
    assert set(ids(store.query(dense, None, SearchFilter(since=datetime(2024, 1, 11, tzinfo=timezone.utc)), 10, 20))) == {"bank", "mortgage"}
    assert store.count(SearchFilter(until=datetime(2024, 1, 1, tzinfo=timezone.utc))) == 1


def test_collections_and_empty_grant(store):
    dense = {"a": [0.5, 0.5, 0.5, 0.5]}
    assert set(ids(store.query(dense, None, SearchFilter(collections=("finance",)), 10, 20))) == {"bank"}
    assert set(ids(store.query(dense, None, SearchFilter(collections=("default",)), 10, 20))) == {"bundestag", "mortgage", "election"}
    # An empty grant sees nothing, in every call.
    none = SearchFilter(collections=())
    assert store.query(dense, query_vector("interest"), none, 10, 20) == []
    assert store.count(none) == 0
    assert store.facet("lang", none) == {}
    assert list(store.scroll(none)) == []
    assert store.phrase("interest rates", none, 10) == []


def test_embargo_future_hidden_past_visible(store):
    dense = {"a": [0, 0, 0, 1]}
    visible = ids(store.query(dense, None, ALL, 10, 20))
    assert "final" not in visible and "election" in visible
    assert store.count(ALL) == 4
    later = SearchFilter(now=datetime(3000, 1, 1, tzinfo=timezone.utc))
    assert ids(store.query(dense, None, later, 1, 20)) == ["final"]
    assert store.count(later) == 5
    before = SearchFilter(now=datetime(2019, 1, 1, tzinfo=timezone.utc))
    assert store.count(before) == 3


UNEMBARGOED = [make_point(*d[:6], None, *d[7:]) for d in DOCS if d[0] != "final"]
EMBARGOED = [make_point(*d) for d in DOCS if d[0] == "final"]  # until 2999


@pytest.mark.parametrize("kind", ["edge", "server"])
def test_an_embargo_arriving_later_is_honoured_at_once(kind, tmp_path):
    """The embedded store searches without the embargo clause while it holds no embargoed
    chunk: the first embargoed article must switch it back on before any search can see it."""
    s = _open(kind, tmp_path)
    try:
        s.upsert(UNEMBARGOED)
        dense = {"a": [0, 0, 0.2, 1]}  # nearest to "final", then "election"
        assert ids(s.query(dense, None, ALL, 1, 20)) == ["election"]
        s.upsert(EMBARGOED)
        assert "final" not in ids(s.query(dense, None, ALL, 10, 20))
        assert "final" not in ids(s.query_many([("a", dense["a"], ALL, 10)])[0])
        assert "final" not in ids(s.phrase("championship final", ALL, 10))
        assert "final" not in [p["article_id"] for p in s.scroll(ALL, ["article_id"])]
        assert s.count(ALL) == 4 and s.facet("collection", ALL).get("sport") is None
        assert s.count(SearchFilter(now=datetime(3000, 1, 1, tzinfo=timezone.utc))) == 5
    finally:
        s.close()
    if kind == "edge":  # and when the store is opened again
        s = _open(kind, tmp_path)
        try:
            assert "final" not in ids(s.query(dense, None, ALL, 10, 20))
        finally:
            s.close()


def test_an_embargo_written_during_a_search_is_not_returned(tmp_path):
    """A search that began when no chunk was embargoed, while the first embargoed one is being
    written, must not return it: the write announces the embargo and the search runs again."""
    s = _open("edge", tmp_path)
    s.upsert(UNEMBARGOED)
    real = s.shard

    class WriteDuringSearch:
        def __getattr__(self, name):
            return getattr(real, name)

        def query(self, request):
            s.shard = real  # once
            s.upsert(EMBARGOED)
            return real.query(request)

        def query_batch(self, batch):
            s.shard = real
            s.upsert(EMBARGOED)
            return real.query_batch(batch)

    dense = {"a": [0, 0, 0, 1]}
    try:
        s.shard = WriteDuringSearch()
        assert "final" not in ids(s.query(dense, None, ALL, 10, 20))
        s.delete_article(("sport", "final"), EVERYTHING)
        s.close()
        s = _open("edge", tmp_path)  # no embargo stored: the store searches without the clause again
        real = s.shard
        s.shard = WriteDuringSearch()
        assert "final" not in ids(s.query_many([("a", dense["a"], ALL, 10)])[0])
    finally:
        s.close()


def test_a_rewritten_point_is_returned_as_rewritten(store):
    """Edge keeps returned payloads in memory by point id: a write of that id must show at once."""
    dense = {"a": [0, 1, 0, 0]}
    assert store.query(dense, None, ALL, 1, 10)[0].payload["text"].startswith("The central bank")
    changed = make_point(*DOCS[1])
    changed.payload["text"] = "The central bank held rates"
    store.upsert([changed])
    hits = store.query(dense, None, ALL, 1, 10)
    assert hits[0].payload["text"] == "The central bank held rates"
    hits[0].payload["text"] = "mutated by a caller"
    assert store.query_many([("a", dense["a"], ALL, 1)])[0][0].payload["text"] == "The central bank held rates"


def test_payload_cache_is_bounded_and_keeps_no_read_that_spans_a_write():
    from assistant.store.payload_cache import PayloadCache

    cache = PayloadCache(entries=2)
    calls = []

    def fetch(keys):
        calls.append(list(keys))
        return [(k, {"v": k}) for k in keys if k != "gone"]

    assert cache.payloads(["a", "b", "a", "gone"], fetch) == {"a": {"v": "a"}, "b": {"v": "b"}}
    assert calls == [["a", "b", "gone"]]
    assert cache.payloads(["a", "b"], fetch) and len(calls) == 1  # both held
    cache.payloads(["c"], fetch)  # evicts the least recently used
    assert cache.payloads(["a"], fetch) and calls[-1] == ["a"]

    def fetch_during_a_write(keys):
        cache.writing(["x"])
        return [(k, {"v": "old"}) for k in keys]

    assert cache.payloads(["x"], fetch_during_a_write) == {"x": {"v": "old"}}  # returned, not kept
    assert cache.payloads(["x"], fetch) == {"x": {"v": "x"}}


def _in(collection: str, doc: tuple) -> tuple:
    return (*doc[:5], collection, *doc[6:])


def test_delete_article_keep_hash_and_versions(store):
    old = [make_point(*DOCS[1], article="story", chash="v1", n=i) for i in range(2)]
    new = [make_point(*_in("finance", DOCS[2]), article="story", chash="v2", n=10)]
    store.upsert(old + new)
    story, bank = ("finance", "story"), ("finance", "bank")
    assert store.article_versions([story, bank, ("finance", "missing"), ("default", "story")], EVERYTHING) == {
        story: {"v1": 2, "v2": 1}, bank: {"h1": 1}}
    # By file: the story's v1 chunks came from bank.jsonl (make_point names the file by the doc), v2 from mortgage.jsonl.
    assert store.source_versions("/archive/bank.jsonl", EVERYTHING) == {story: {"v1": 2}, bank: {"h1": 1}}
    assert store.source_versions("/archive/mortgage.jsonl", EVERYTHING) == {story: {"v2": 1},
                                                                             ("default", "mortgage"): {"h1": 1}}
    assert store.source_versions("/archive/missing.jsonl", EVERYTHING) == {}
    store.delete_article(story, EVERYTHING, keep_hash="v2")
    assert store.article_versions([story], EVERYTHING) == {story: {"v2": 1}}
    store.delete_article(story, EVERYTHING)
    assert store.article_versions([story], EVERYTHING) == {}
    assert store.article_versions([], EVERYTHING) == {}
    assert store.count(ALL) == 4  # the others untouched


def test_the_same_id_in_two_collections_is_two_articles(store):
    """Versions, deletes and sources are per (collection, id); another desk's article of that id stays."""
    store.upsert([make_point(*_in("finance", DOCS[2]), article="inv-001", chash="f", n=1),
                  make_point(*_in("investigations", DOCS[2]), article="inv-001", chash="i", n=2)])
    fin, inv = ("finance", "inv-001"), ("investigations", "inv-001")
    assert store.article_versions([fin], EVERYTHING) == {fin: {"f": 1}}
    assert store.article_versions([fin, inv], EVERYTHING) == {fin: {"f": 1}, inv: {"i": 1}}
    store.delete_article(fin, EVERYTHING)
    assert store.article_versions([fin, inv], EVERYTHING) == {inv: {"i": 1}}


def test_a_write_view_hides_embargoed_chunks_from_lookups_and_deletes(store):
    """An untrusted write's view (now, no embargoed chunk) neither counts nor deletes an embargoed article."""
    final = ("sport", "final")
    now = SearchFilter()
    assert store.article_versions([final], now) == {}
    assert store.source_versions("/archive/final.jsonl", now) == {}
    store.delete_article(final, now)
    store.delete_article(final, now, keep_hash="other")
    assert store.article_versions([final], EVERYTHING) == {final: {"h1": 1}}
    assert store.source_versions("/archive/final.jsonl", EVERYTHING) == {final: {"h1": 1}}


def test_upsert_same_id_replaces(store):
    p = make_point(*DOCS[1])
    p.payload["title"] = "Rewritten"
    store.upsert([p])
    assert store.count(ALL) == 4
    hits = store.query({"a": [0, 1, 0, 0]}, None, ALL, 1, 10)
    assert hits[0].payload["title"] == "Rewritten"
    assert hits[0].id == p.id


def test_phrase_search_folds_accents_and_finds_unspaced_scripts(tmp_path):
    s = _open("edge", tmp_path)
    try:
        texts = {"fr": ("Le café est fermé depuis lundi.", "fr"), "zh": ("北京时间昨天晚上，国务院发布了通知。", "zh"),
                 "th": ("ข่าวการเมืองวันนี้", "th"), "tr": ("İstanbul'da toplantı yapıldı", "tr")}
        s.upsert([make_point(k, text, lang, "ap", "2024-01-01T00:00:00Z", "default", None, [1, 0, 0, 0], [1, 0, 0])
                  for k, (text, lang) in texts.items()])
        assert ids(s.phrase("cafe est ferme", ALL, 10)) == ["fr"]
        assert ids(s.phrase("CAFÉ EST", ALL, 10)) == ["fr"]
        assert ids(s.phrase("est cafe", ALL, 10)) == []
        assert ids(s.phrase("国务院发布", ALL, 10)) == ["zh"]
        assert ids(s.phrase("การเมือง", ALL, 10)) == ["th"]
        assert ids(s.phrase("istanbul'da", ALL, 10)) == ["tr"]
    finally:
        s.close()


def test_phrase_search(store):
    assert set(ids(store.phrase("interest rates", ALL, 10))) == {"bank", "mortgage"}
    assert ids(store.phrase("rates again", ALL, 10)) == ["bank"]
    assert store.phrase("again rates", ALL, 10) == []
    assert ids(store.phrase("championship final", ALL, 10)) == []  # embargoed
    assert ids(store.phrase("interest rates", SearchFilter(sources=("ap",)), 10)) == ["mortgage"]


def test_scroll_fields_count_facet(store):
    rows = list(store.scroll(ALL, ["article_id", "lang"]))
    assert sorted(r["article_id"] for r in rows) == ["bank", "bundestag", "election", "mortgage"]
    assert all(set(r) == {"article_id", "lang"} for r in rows)
    full = list(store.scroll(SearchFilter(langs=("de",))))
    assert full[0]["text"].startswith("Der Bundestag")
    assert store.count(SearchFilter(langs=("en",))) == 3
    assert store.facet("lang", ALL) == {"en": 3, "de": 1}
    assert store.facet("source", SearchFilter(langs=("en",))) == {"reuters": 2, "ap": 1}


def test_scroll_pages_past_one_page(store):
    many = [make_point(*DOCS[0], article=f"bulk{i}", n=100 + i) for i in range(600)]
    store.upsert(many)
    assert sum(1 for _ in store.scroll(SearchFilter(langs=("de",)), ["article_id"])) == 601
    assert store.count(SearchFilter(langs=("de",))) == 601


def test_backends_agree(tmp_path):
    """The same data and query give the same ranking and scores on both backends."""
    stores = [_open("edge", tmp_path / "e"), _open("server", tmp_path / "s")]
    try:
        results = []
        for s in stores:
            s.upsert([make_point(*d) for d in DOCS])
            results.append(s.query({"a": [0.1, 0.9, 0.3, 0], "b": [0.2, 0.9, 0.1]}, query_vector("interest rates mortgages"),
                                   ALL, limit=4, candidates=10))
        (edge, server) = results
        assert [h.id for h in edge][:2] == [h.id for h in server][:2]  # the tail holds exact ties
        assert {h.id: h.score for h in edge} == pytest.approx({h.id: h.score for h in server}, rel=1e-4)
        sparse = [s.query({}, query_vector("interest rates"), ALL, 4, 10) for s in stores]
        assert [h.score for h in sparse[0]] == pytest.approx([h.score for h in sparse[1]], rel=1e-3)
    finally:
        for s in stores:
            s.close()


def test_server_reopen_checks_dims_and_keeps_settings(tmp_path):
    from qdrant_client import QdrantClient

    from assistant.errors import ConfigError
    from assistant.store.server import ServerStore

    client = QdrantClient(":memory:")
    settings = load_settings(env={}, data_dir=str(tmp_path), qdrant_url=":memory:", collection="c",
                             shard_number=2, replication_factor=1, on_disk_vectors=True, quantization_int8=True)
    s = ServerStore(settings, DIMS, client=client)
    s.upsert([make_point(*DOCS[0])])
    assert ServerStore(settings, DIMS, client=client).total() == 1
    with pytest.raises(ConfigError, match="embedders"):
        ServerStore(settings, {"a": 8}, client=client)
    params = client.get_collection("c").config.params
    assert params.vectors["a"].size == 4 and params.sparse_vectors["bm25"].modifier is None  # IDF per query
    client.close()


def test_server_errors_are_one_line_backend_errors(tmp_path, monkeypatch):
    from assistant.errors import BackendError
    from assistant.store import server as ss

    monkeypatch.setattr(ss, "BACKOFF_S", 0.001)
    # A closed local port: connection refused, retried, then one line naming the URL.
    settings = load_settings(env={}, data_dir=str(tmp_path), qdrant_url="http://127.0.0.1:9")
    with pytest.raises(BackendError) as err:
        ss.ServerStore(settings, DIMS)
    msg = str(err.value)
    assert "http://127.0.0.1:9" in msg and "\n" not in msg and "tries" in msg


def test_settings_server_fields_from_env(tmp_path):
    s = load_settings(env={"NEWSROOM_SHARD_NUMBER": "3", "NEWSROOM_REPLICATION_FACTOR": "2",
                           "NEWSROOM_QUANTIZATION_INT8": "true"}, data_dir=str(tmp_path))
    assert (s.shard_number, s.replication_factor, s.write_consistency_factor, s.on_disk_vectors, s.quantization_int8) == (3, 2, 1, False, True)


def test_bm25_statistics_count_only_what_the_filter_admits(store):
    """The IDF of a query word is counted over the chunks the filter admits: words in other
    collections or in embargoed chunks change neither the score nor which chunks come back."""
    import math

    finance = SearchFilter(collections=("finance",))
    before = store.query({}, query_vector("rates"), finance, limit=5, candidates=10)
    assert ids(before) == ["bank"]
    # N = 1 chunk admitted, df = 1: the score is the chunk's BM25 weight of "rates" × ln(1 + 0.5 / 1.5).
    idx, weights = document_vector(DOCS[1][1])
    tf = dict(zip(idx, weights))[query_vector("rates")[0][0]]
    assert before[0].score == pytest.approx(tf * math.log(1 + 0.5 / 1.5), rel=1e-5)
    hidden = [make_point(*_in("sport", DOCS[1]), article="elsewhere", n=7),
              make_point(*_in("finance", DOCS[2]), article="embargoed", n=8)]
    hidden[1].payload["embargo_until"] = FUTURE
    store.upsert(hidden)
    after = store.query({}, query_vector("rates"), finance, limit=5, candidates=10)
    assert ids(after) == ["bank"] and after[0].score == before[0].score
    assert "terms" not in after[0].payload  # the term ids stay in the store


def test_a_store_with_bm25_statistics_over_everything_is_refused(tmp_path):
    """Stores of format 1 (Qdrant's IDF modifier over every chunk) leak hidden words: refused at open
    with one line saying how to rebuild."""
    import qdrant_edge as q
    from qdrant_client import QdrantClient
    from qdrant_client import models as m

    from assistant.errors import ConfigError
    from assistant.store.server import ServerStore

    settings = load_settings(env={}, data_dir=str(tmp_path / "data"))
    config = q.EdgeConfig(vectors={n: q.EdgeVectorParams(size=d, distance=q.Distance.Cosine) for n, d in DIMS.items()},
                          sparse_vectors={"bm25": q.EdgeSparseVectorParams(modifier=q.Modifier.Idf)})
    settings.store_path.parent.mkdir(parents=True)
    q.EdgeShard.create(str(settings.store_path), config).close()
    with pytest.raises(ConfigError, match="upgrade-store"):
        open_store(settings, DIMS)
    client = QdrantClient(":memory:")
    client.create_collection("old", vectors_config={n: m.VectorParams(size=d, distance=m.Distance.COSINE)
                                                     for n, d in DIMS.items()},
                             sparse_vectors_config={"bm25": m.SparseVectorParams(modifier=m.Modifier.IDF)})
    server = load_settings(env={}, data_dir=str(tmp_path), qdrant_url=":memory:", collection="old")
    with pytest.raises(ConfigError, match="earlier version"):
        ServerStore(server, DIMS, client=client)
    client.close()
