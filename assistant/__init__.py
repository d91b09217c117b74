"""Newsroom assistant: retrieval, cited answers, the app and the API."""

__version__ = "0.1.0"
