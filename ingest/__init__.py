"""Readers, normalization, chunking and the ingest pipeline."""
