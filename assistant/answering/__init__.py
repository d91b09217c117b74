"""Answering over retrieved passages: answers (extractive or by an LLM), answerability, citation
checks, claims, quotes, follow-up questions, the chat model, its prompts and output, exports."""
