"""Ingest at archive scale, side by side: our pipeline, the encoder alone, a plain LangChain pipeline.

Builds a mixed-language archive of N articles (default 1,000) from ../shared/corpora
(XQuAD paragraphs in six languages first, then RGB, TICO-19, MEMERAG, AVeriTeC
passages), written as JSONL exports of 100 articles each, and measures in one run:

- our ingest: articles/s, chunks/s, peak memory (peak RSS of this process plus its
  parser processes' peaks);
- the encoder alone on exactly the chunk texts our pipeline embeds, in the same
  batches: target end-to-end ÷ encoder ≤ 1.15; and, for the record, the encoder given
  those texts' tokens (its forward pass: our parser processes tokenize, see ingest/workers.py);
  (first ingests run in --rounds rounds of encoder, ours, LangChain, each into a new store:
  the ratios use each side's best round, as other programs only ever add time; the
  medians are reported beside them)
- LangChain: JSONL loader → RecursiveCharacterTextSplitter → QdrantVectorStore on
  qdrant-client's local mode at a path, with the same embedding model wrapped as
  LangChain Embeddings: first ingest ours ÷ theirs ≤ 1.05;
- re-ingest of the archive with 5% of the articles edited: ours (only the edited ones
  are re-embedded) vs LangChain re-adding everything: ours ≥ 10× faster;
- search p50 over real questions on the resulting stores, like for like (the same query
  vector, top-k nearest, Qdrant Edge vs qdrant-client's local mode; best of 5 alternating
  passes each): ours ≥ 10× faster;
  also our full retrieval (per-language candidates, centring, BM25) and both sides with
  query embedding included, for the record.

    python bench/ingest_bench.py [--articles N] [--embedder use] [--rounds 5] [--json PATH] [--keep DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.embedders.dense import passage_tokenizers  # noqa: E402
from assistant.embedders.interface import Embedder  # noqa: E402
from assistant.embedders.sparse import cache_clear as sparse_cache_clear  # noqa: E402
from assistant.service import Assistant  # noqa: E402
from assistant.settings import Settings, load_settings  # noqa: E402
from ingest.payload import embed_text  # noqa: E402
from ingest.pipeline import BATCH_ARTICLES, IngestReport, iter_articles  # noqa: E402

CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"
XQUAD_LANGS = ("en", "zh", "es", "de", "ru", "ar")
MORE = ("rgb-zh/corpus.jsonl", "tico19-en-fr-zh/corpus.jsonl", "memerag/corpus.jsonl", "averitec-en/corpus.jsonl")
PER_FILE = 100
SEARCH_PASSES = 5


# -- the archive ------------------------------------------------------------------------

def _rows(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def build_archive(folder: Path, n: int) -> list[dict]:
    """N articles, languages interleaved, written as JSONL files of PER_FILE rows."""
    xquad = [_rows(CORPORA / "xquad" / f"corpus.{lang}.jsonl") for lang in XQUAD_LANGS]
    pool = [row for group in zip(*xquad) for row in group]  # en, zh, es, de, ru, ar, en, ...
    for extra in MORE:
        if len(pool) >= n:
            break
        pool += _rows(CORPORA / extra)
    if len(pool) < n:
        raise SystemExit(f"the corpora hold {len(pool)} articles; ask for fewer")
    articles = []
    for i, row in enumerate(pool[:n]):
        articles.append({"id": f"bench-{i}", "title": row.get("title") or "", "body": row["body"],
                         "lang": row.get("lang") or "", "source": row.get("source") or "corpus"})
    write_archive(folder, articles)
    return articles


def write_archive(folder: Path, articles: list[dict]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for start in range(0, len(articles), PER_FILE):
        rows = articles[start : start + PER_FILE]
        (folder / f"export-{start // PER_FILE:04d}.jsonl").write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def edited(articles: list[dict], share: float, seed: int = 7) -> list[dict]:
    """A copy with ``share`` of the articles given an extra closing sentence."""
    rng = random.Random(seed)
    chosen = set(rng.sample(range(len(articles)), max(1, round(share * len(articles)))))
    out = []
    for i, a in enumerate(articles):
        a = dict(a)
        if i in chosen:
            a["body"] = a["body"] + ("\n\n该文已于今日更新。" if a["lang"] == "zh" else "\n\nThis article was updated today.")
        out.append(a)
    return out


# -- measuring ---------------------------------------------------------------------------

class PeakRSS:
    """Peak resident memory of this process plus its child processes (the parsers).

    The kernel keeps each process's peak (VmHWM): this process's is reset on entry and read
    on exit, so measuring costs the measured code nothing. (Sampling psutil every 50 ms held
    the GIL ~1 ms each time: 2% of a core taken from the encoder's Python parts.) Children
    started inside the block are looked up every 0.2 s from /proc, their own peaks read, and
    the sum of the peaks reported: never below the true peak of the sum.
    """

    def __init__(self, every_s: float = 0.2):
        self.every_s, self.peak = every_s, 0
        self._children: dict[int, int] = {}
        self._before: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _hwm(pid: int | str = "self") -> int:
        try:
            with open(f"/proc/{pid}/status") as fh:
                return next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmHWM:"))
        except (OSError, StopIteration, ValueError):
            return 0

    @staticmethod
    def _child_pids(pid: int) -> list[int]:
        found = []
        for task in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{task}/children") as fh:
                    found += [int(c) for c in fh.read().split()]
            except OSError:
                pass
        return found + [g for c in found for g in PeakRSS._child_pids(c) if os.path.exists(f"/proc/{c}")]

    def _sample_children(self) -> None:
        for pid in self._child_pids(os.getpid()):
            if pid not in self._before:
                self._children[pid] = max(self._children.get(pid, 0), self._hwm(pid))

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self._sample_children()

    def __enter__(self) -> "PeakRSS":
        self._before = set(self._child_pids(os.getpid()))  # another side's processes, still up
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")  # resets VmHWM to the present RSS
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample_children()
        self.peak = self._hwm() + sum(self._children.values())


def chunk_texts(archive: Path, settings: Settings) -> list[list[str]]:
    """The texts our pipeline embeds, grouped in its write batches."""
    report = IngestReport()
    batches: list[list[str]] = []
    batch: list[str] = []
    n = 0
    for item in iter_articles([archive], settings, report):
        batch += [embed_text(item.article, c, settings.embed_title) for c in item.chunks]
        n += 1
        if n % BATCH_ARTICLES == 0:
            batches.append(batch)
            batch = []
    if batch:
        batches.append(batch)
    return batches


def cpu_s() -> float:
    """CPU seconds of this process (all threads) and of its finished children: far steadier than
    wall time when other programs share the machine."""
    import resource

    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


class Timer:
    def __enter__(self) -> "Timer":
        self.wall, self.cpu = time.perf_counter(), cpu_s()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, cpu_s() - self.cpu


def encoder_only(embedder: Embedder, batches: list[list[str]]) -> Timer:
    with Timer() as t:
        for texts in batches:
            embedder.embed_passages(texts)
    return t


def forward_only(embedder: Embedder, batches: list[list[str]], tokens: list[list]) -> Timer:
    """The encoder given its tokens (computed beforehand, untimed): what is left of it in the
    ingesting process when the parser processes tokenize."""
    with Timer() as t:
        for texts, ids in zip(batches, tokens):
            embedder.embed_passages(texts, tokens=ids)  # type: ignore[call-arg]
    return t


def p50_ms(fn, queries: list[str]) -> float:
    fn(queries[0])  # warm
    times = []
    for q in queries:
        started = time.perf_counter()
        fn(q)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


# -- LangChain ---------------------------------------------------------------------------

def langchain_embeddings(embedder: Embedder):
    from langchain_core.embeddings import Embeddings

    class Wrapped(Embeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return embedder.embed_passages(texts).tolist()

        def embed_query(self, text: str) -> list[float]:
            return embedder.embed_query(text).tolist()

    return Wrapped()


def langchain_load(archive: Path):
    """A plain loader: one Document per JSONL row (body as content, the rest as metadata)."""
    from langchain_core.documents import Document

    docs = []
    for path in sorted(archive.glob("*.jsonl")):
        for row in _rows(path):
            docs.append(Document(page_content=row["body"], metadata={k: v for k, v in row.items() if k != "body"}))
    return docs


def langchain_ingest(archive: Path, embeddings, store_path: Path, client=None):
    """Loader → RecursiveCharacterTextSplitter → QdrantVectorStore (local mode at a path); returns (store, chunks)."""
    from langchain_qdrant import QdrantVectorStore
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    # ~1,500 characters ≈ our 200–320-token chunks in English.
    splitter = RecursiveCharacterTextSplitter(chunk_size=1500, chunk_overlap=200)
    chunks = splitter.split_documents(langchain_load(archive))
    if client is None:
        store = QdrantVectorStore.from_documents(chunks, embeddings, path=str(store_path), collection_name="bench")
    else:
        store = QdrantVectorStore(client=client, collection_name="bench", embedding=embeddings)
        store.add_documents(chunks)
    return store, len(chunks)


# -- the run -----------------------------------------------------------------------------

def run(n: int, embedder_name: str, work: Path, queries_n: int, rounds: int = 5) -> dict:
    archive = work / "archive"
    articles = build_archive(archive, n)
    settings = load_settings(data_dir=str(work / "ours-0"), embedders=embedder_name)
    assistant = Assistant(settings)
    embedder = assistant.embedders[0]
    embedder.embed_passages(["warm up"])  # both sides start with the model loaded
    embeddings = langchain_embeddings(embedder)

    batches = chunk_texts(archive, settings)
    n_chunks = sum(len(b) for b in batches)
    tokenize = passage_tokenizers(settings).get(embedder.name)
    tokens = [tokenize(texts) for texts in batches] if tokenize else None
    print(f"{n} articles, {n_chunks} chunks, embedder {embedder_name}, {os.cpu_count()} cores", file=sys.stderr)

    # Rounds of (encoder alone, our first ingest into a new store, LangChain's into a new
    # store): other programs on the machine only ever add time, so each side's best round
    # is its own cost; the median is printed beside it.
    encoder_t: list[Timer] = []
    forward_t: list[Timer] = []
    ours_t: list[Timer] = []
    lc_t: list[Timer] = []
    rss_peak = lc_rss_peak = 0
    for r in range(rounds):
        encoder_t.append(encoder_only(embedder, batches))
        if tokens is not None:
            forward_t.append(forward_only(embedder, batches, tokens))
        if r:
            embedders = assistant.embedders
            assistant.close()
            settings = replace(settings, data_dir=work / f"ours-{r}")
            assistant = Assistant(settings)
            assistant._embedders = embedders  # the model stays loaded, as it does on LangChain's side
        sparse_cache_clear()  # every round of ours starts with BM25's word caches empty, as the first did
        with PeakRSS() as rss, Timer() as t:
            first = assistant.ingest([archive])
        assert first.ingested == n and not first.failed, first.to_dict()
        ours_t.append(t)
        shutil.rmtree(work / "langchain", ignore_errors=True)
        with PeakRSS() as lc_rss, Timer() as t:
            lc_store, lc_chunks = langchain_ingest(archive, embeddings, work / "langchain")
        lc_t.append(t)
        rss_peak, lc_rss_peak = max(rss_peak, rss.peak), max(lc_rss_peak, lc_rss.peak)
        if r < rounds - 1:
            lc_store.client.close()
        forward = f" (without its tokenizer {forward_t[-1].wall:.2f} s)" if forward_t else ""
        print(f"  round {r + 1}: encoder {encoder_t[-1].wall:.2f} s{forward}, ours {ours_t[-1].wall:.2f} s, "
              f"LangChain {lc_t[-1].wall:.2f} s", file=sys.stderr)
    best = {side: min(ts, key=lambda t: t.wall) for side, ts in (("encoder", encoder_t), ("ours", ours_t), ("lc", lc_t))}
    median = {side: statistics.median(t.wall for t in ts) for side, ts in (("encoder", encoder_t), ("ours", ours_t), ("lc", lc_t))}
    encoder, ours_first, lc_first = best["encoder"].wall, best["ours"].wall, best["lc"].wall
    forward = min(t.wall for t in forward_t) if forward_t else None

    write_archive(archive, edited(articles, 0.05))
    started = time.perf_counter()
    second = assistant.ingest([archive])
    ours_again = time.perf_counter() - started
    started = time.perf_counter()
    langchain_ingest(archive, embeddings, work / "langchain", client=lc_store.client)
    lc_again = time.perf_counter() - started

    questions = []
    for lang in ("en", "zh", "es"):
        questions += [r["question"] for r in _rows(CORPORA / "xquad" / f"questions.{lang}.jsonl")[: queries_n // 3]]
    ours_p50 = p50_ms(lambda q: assistant.search(q), questions)
    lc_p50 = p50_ms(lambda q: lc_store.similarity_search(q, k=settings.top_k), questions)
    # The stores alone, like for like: the same query vector, top-k nearest by the primary
    # embedder, on each side's store (Qdrant Edge vs qdrant-client's local mode).
    from assistant.retrieval.query import embed_query
    from assistant.retrieval.search import retrieve
    from assistant.store.interface import SearchFilter

    lc_vectors = {q: embeddings.embed_query(q) for q in questions}
    no_filter = SearchFilter()
    # A search on 1,000 chunks takes ~0.1 ms: the machine's moods move that by half, so each side
    # gets SEARCH_PASSES passes over the questions, alternating, and its best pass counts.
    ours_passes, lc_passes = [], []
    for _ in range(SEARCH_PASSES):
        ours_passes.append(p50_ms(lambda q: assistant.store.query({embedder.name: lc_vectors[q]}, None, no_filter,
                                                                  limit=settings.top_k, candidates=settings.top_k),
                                  questions))
        lc_passes.append(p50_ms(lambda q: lc_store.similarity_search_by_vector(lc_vectors[q], k=settings.top_k),
                                questions))
    ours_store_p50, lc_store_p50 = min(ours_passes), min(lc_passes)
    # Our full retrieval (per-language candidates, language centring, BM25, duplicate collapse), vectors given.
    ours_vectors = {q: embed_query(q, assistant.embedders) for q in questions}
    ours_retrieval_p50 = p50_ms(lambda q: retrieve(q, assistant.store, assistant.embedders, settings, no_filter,
                                                   vectors=ours_vectors[q]), questions)
    assistant.close()

    return {
        "articles": n, "chunks": n_chunks, "embedder": embedder_name, "cores": os.cpu_count(), "rounds": rounds,
        "ingest_workers": settings.ingest_workers,
        "ours": {"first_s": round(ours_first, 2), "articles_per_s": round(n / ours_first, 1),
                 "chunks_per_s": round(first.chunks / ours_first, 1), "peak_rss_mb": round(rss_peak / 2**20),
                 "reingest_s": round(ours_again, 2), "reingest_updated": second.updated,
                 "reingest_unchanged": second.unchanged, "search_p50_ms": round(ours_p50, 2),
                 "store_search_p50_ms": round(ours_store_p50, 3),
                 "store_search_p50_ms_passes": [round(x, 3) for x in ours_passes],
                 "retrieval_p50_ms": round(ours_retrieval_p50, 2)},
        "encoder_only_s": {"best": round(encoder, 2), "median": round(median["encoder"], 2),
                           "cpu_best": round(best["encoder"].cpu, 2),
                           "without_tokenizer_best": round(forward, 2) if forward else None},
        "median_s": {side: round(v, 2) for side, v in median.items()},
        "cpu_s": {"ours_first": round(best["ours"].cpu, 2), "langchain_first": round(best["lc"].cpu, 2)},
        "langchain": {"first_s": round(lc_first, 2), "chunks": lc_chunks, "peak_rss_mb": round(lc_rss_peak / 2**20),
                      "reingest_s": round(lc_again, 2), "search_p50_ms": round(lc_p50, 2),
                      "store_search_p50_ms": round(lc_store_p50, 3),
                      "store_search_p50_ms_passes": [round(x, 3) for x in lc_passes]},
        "ratios": {
            "ingest_over_encoder": round(ours_first / encoder, 3),
            "first_ingest_ours_over_langchain": round(ours_first / lc_first, 3),
            "reingest_speedup": round(lc_again / ours_again, 1),
            "ingest_over_encoder_median": round(median["ours"] / median["encoder"], 3),
            "first_ingest_ours_over_langchain_median": round(median["ours"] / median["lc"], 3),
            "ingest_over_encoder_cpu": round(best["ours"].cpu / best["encoder"].cpu, 3),
            "first_ingest_ours_over_langchain_cpu": round(best["ours"].cpu / best["lc"].cpu, 3),
            **({"ingest_over_encoder_without_tokenizer": round(ours_first / forward, 3)} if forward else {}),
            "store_search_p50_speedup": round(lc_store_p50 / ours_store_p50, 1),
            "search_p50_speedup_with_embedding": round(lc_p50 / ours_p50, 1),
        },
        "targets": {"ingest_over_encoder": "<= 1.15", "first_ingest_ours_over_langchain": "<= 1.05",
                    "reingest_speedup": ">= 10", "store_search_p50_speedup": ">= 10",
                    "ingest_over_encoder_median": "(medians of the rounds)",
                    "first_ingest_ours_over_langchain_median": "(medians of the rounds)",
                    "ingest_over_encoder_cpu": "(CPU seconds, best rounds)", "first_ingest_ours_over_langchain_cpu": "(CPU seconds)",
                    "ingest_over_encoder_without_tokenizer": "(the encoder given tokens: parser processes tokenize)",
                    "search_p50_speedup_with_embedding": "(ours: full hybrid retrieval + query embedding)"},
    }


def table(r: dict) -> str:
    o, lc, ratio = r["ours"], r["langchain"], r["ratios"]
    lines = [
        f"{r['articles']} articles, {r['chunks']} chunks, embedder {r['embedder']}, {r['cores']} cores, "
        f"{r['ingest_workers']} parser process(es); first ingests: best of {r['rounds']} rounds",
        "",
        f"{'':28}{'ours':>12}{'LangChain':>12}{'encoder':>12}",
        f"{'first ingest (s)':28}{o['first_s']:>12}{lc['first_s']:>12}{r['encoder_only_s']['best']:>12}",
        *([f"{'  encoder given tokens (s)':28}{'':>24}{r['encoder_only_s']['without_tokenizer_best']:>12}"]
          if r['encoder_only_s']['without_tokenizer_best'] else []),
        f"{'  CPU seconds':28}{r['cpu_s']['ours_first']:>12}{r['cpu_s']['langchain_first']:>12}"
        f"{r['encoder_only_s']['cpu_best']:>12}",
        f"{'articles/s':28}{o['articles_per_s']:>12}{round(r['articles'] / lc['first_s'], 1):>12}",
        f"{'chunks/s':28}{o['chunks_per_s']:>12}{round(lc['chunks'] / lc['first_s'], 1):>12}",
        f"{'peak RSS (MB)':28}{o['peak_rss_mb']:>12}{lc['peak_rss_mb']:>12}",
        f"{'re-ingest, 5% edited (s)':28}{o['reingest_s']:>12}{lc['reingest_s']:>12}",
        f"{'store search p50 (ms)':28}{o['store_search_p50_ms']:>12}{lc['store_search_p50_ms']:>12}",
        f"{'our full retrieval p50 (ms)':28}{o['retrieval_p50_ms']:>12}",
        f"{'search + embedding p50 (ms)':28}{o['search_p50_ms']:>12}{lc['search_p50_ms']:>12}",
        "",
    ]
    for key, value in ratio.items():
        target = r["targets"][key]
        lines.append(f"{key:36}{value:>8}   {target if target.startswith('(') else 'target ' + target}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--embedder", default="use", help="embedder for both pipelines (default use)")
    parser.add_argument("--queries", type=int, default=150, help="questions for the search p50")
    parser.add_argument("--rounds", type=int, default=5, help="first-ingest rounds (best and median reported)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temporary one)")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="ingest-bench-"))
    if args.keep and work.exists():
        shutil.rmtree(work)
    try:
        result = run(args.articles, args.embedder, work, args.queries, args.rounds)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
