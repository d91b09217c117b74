"""Prompt templates from prompts/*.txt, rendered strictly: a missing or unknown slot is an error."""
from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

_SLOT = re.compile(r"\{\{\s*(\w+)\s*\}\}")


@lru_cache(maxsize=None)
def template(name: str) -> str:
    return resources.files("prompts").joinpath(f"{name}.txt").read_text(encoding="utf-8")


def slots(name: str) -> set[str]:
    return set(_SLOT.findall(template(name)))


def render(name: str, **values: str) -> str:
    wanted = slots(name)
    missing = wanted - values.keys()
    extra = values.keys() - wanted
    if missing or extra:
        raise KeyError(f"prompt '{name}': missing slots {sorted(missing)}, unknown slots {sorted(extra)}")
    return _SLOT.sub(lambda m: values[m.group(1)], template(name))
