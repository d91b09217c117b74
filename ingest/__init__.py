"""Readers, normalization, chunking and the ingest pipeline."""
import assistant  # noqa: F401  (first: it sets OpenBLAS's thread timeout before numpy loads)
