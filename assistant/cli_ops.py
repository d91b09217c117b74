"""Operations verbs of the CLI (migrate, backup, restore): kept apart from the everyday verbs."""
from __future__ import annotations

import argparse

from .settings import Settings

COMMANDS: frozenset[str] = frozenset()


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register the operations sub-commands."""


def run(args: argparse.Namespace, settings: Settings) -> int:
    raise NotImplementedError(args.command)
