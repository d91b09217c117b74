"""Text utilities both sides share (ingest and answering), below everything: script ranges,
token counts, sentence spans, language detection and folding. They import nothing of ours."""
