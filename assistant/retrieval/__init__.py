"""Retrieval: the retrieved Passage, the query's vectors, language centring, score fusion, the
hybrid search, phrase look-up, recency, near-duplicate collapse, and what the archive holds."""
