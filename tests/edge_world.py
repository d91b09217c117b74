"""A small archive with a restricted desk, shared by the tests of the edge faces (LangChain, MCP, OpenAI chat).

Real articles from samples/: four in desk-a, one in "investigations" (a restricted desk, its own
outlet name), one under embargo until 2099. alice may see desk-a, editor everything.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from conftest import SAMPLES, read_jsonl, write_jsonl

DESK = ("xquad-00-00-en", "xquad-01-01-en", "xquad-02-02-en", "xquad-13-01-en")
RESTRICTED_ID, EMBARGOED_ID = "xquad-14-02-en", "xquad-12-00-en"
RESTRICTED = ("Grissom", "Chaffee", RESTRICTED_ID, "Secret Desk Wire")
EMBARGOED = ("Scheele", "Priestley", EMBARGOED_ID, "Embargo Wire")
PASSWORDS = {"alice": "alice-pw", "editor": "editor-pw"}
APOLLO = "Which astronauts named their flight Apollo 1?"
EMBEDDERS = "minilm"  # fast to ingest; the faces do not depend on the embedder


@dataclass
class World:
    data: Path
    users: Path

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a `newsroom` process over this archive, logins on."""
        return {**os.environ, "NEWSROOM_DATA_DIR": str(self.data), "NEWSROOM_USERS_FILE": str(self.users),
                "NEWSROOM_EMBEDDERS": EMBEDDERS, "NEWSROOM_RATE_PER_MINUTE": "0", "NEWSROOM_INGEST_WORKERS": "0",
                "GRADIO_ANALYTICS_ENABLED": "False", **extra}


def desk_rows() -> list[dict]:
    """The archive's rows: DESK in desk-a, RESTRICTED_ID in "investigations", EMBARGOED_ID until 2099."""
    rows = []
    for r in read_jsonl(SAMPLES / "articles.jsonl"):
        if r["id"] in DESK:
            rows.append({**r, "collection": "desk-a"})
        elif r["id"] == RESTRICTED_ID:
            rows.append({**r, "collection": "investigations", "source": "Secret Desk Wire"})
        elif r["id"] == EMBARGOED_ID:
            rows.append({**r, "collection": "desk-a", "source": "Embargo Wire", "embargo_until": "2099-01-01T00:00:00Z"})
    return rows


def build_world(root: Path) -> World:
    """Ingest the archive into ``root/data`` and write the users file; the store is closed after."""
    from assistant.auth import hash_password
    from assistant.service import Assistant
    from assistant.settings import load_settings

    rows = desk_rows()
    users = root / "users.toml"
    grants = {"alice": ["desk-a"], "editor": ["*"]}
    users.write_text("".join(f'[users.{name}]\npassword = "{hash_password(PASSWORDS[name])}"\n'
                             f"collections = {json.dumps(desk)}\n\n" for name, desk in grants.items()), encoding="utf-8")
    a = Assistant(load_settings(env={}, data_dir=str(root / "data"), embedders=EMBEDDERS, ingest_workers=0))
    try:
        report = a.ingest([write_jsonl(root / "articles.jsonl", rows)])
        assert not report.failed and report.ingested == 6
    finally:
        a.close()
    return World(root / "data", users)


def leaks(text: str, markers: tuple[str, ...], sent: tuple[str, ...] = ()) -> list[str]:
    """Markers in a response, not counting the words the caller sent themselves (echoed back)."""
    for words in sorted(sent, key=len, reverse=True):
        text = text.replace(json.dumps(words, ensure_ascii=False)[1:-1], "").replace(words, "")
    return [m for m in markers if m.lower() in text.lower()]
