"""Embedders: the interface, the dense backends (USE, e5, sentence-transformers, an
OpenAI-compatible server), the factory that builds the configured ones, BM25 sparse vectors."""
