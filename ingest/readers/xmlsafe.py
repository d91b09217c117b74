"""XML parsing that refuses entity tricks (XXE, billion laughs) with a clear reason."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import defusedxml
import defusedxml.ElementTree as SafeET

from .base import ReaderError, declared_charset, decode_bytes

MAX_XML_NESTING = 1000
_XML_TAG = re.compile(rb"<(/?)[A-Za-z_][^\s/>]*[^>]*?(/?)>")
_DECLARED_ENCODING = re.compile(rb"""^(\s*<\?xml[^>]*encoding\s*=\s*["'])([A-Za-z0-9_.:-]+)(["'])""")


def xml_depth(data: bytes) -> int:
    """Deepest element nesting over the raw tags (no recursion, no parsing)."""
    depth = deepest = 0
    for m in _XML_TAG.finditer(data):
        if m.group(2):
            continue
        if m.group(1):
            depth = max(0, depth - 1)
        else:
            depth += 1
            deepest = max(deepest, depth)
    return deepest


def _as_utf8(data: bytes, where: str) -> bytes:
    """Expat reads no multi-byte legacy encoding (GB18030, Big5...): transcode to UTF-8."""
    text = decode_bytes(data, where, declared_charset(data))
    raw = text.encode("utf-8")
    return _DECLARED_ENCODING.sub(rb"\1utf-8\3", raw, count=1)


def parse_xml(data: bytes, where: str) -> ET.Element:
    """Parse untrusted XML: DOCTYPEs allowed, any entity declaration refused.

    News XML (NITF, NewsML-G2, feeds) never needs its own entities; an entity
    declaration is either an external-entity read (XXE) or an expansion bomb.
    """
    depth = xml_depth(data)
    if depth > MAX_XML_NESTING:
        raise ReaderError(f"{where}: XML nested {depth} elements deep (limit {MAX_XML_NESTING}); refusing to parse")
    try:
        try:
            return SafeET.fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
        except ValueError as exc:
            if "multi-byte" not in str(exc):
                raise
            return SafeET.fromstring(_as_utf8(data, where), forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except defusedxml.EntitiesForbidden as exc:
        kind = "external entity (XXE)" if exc.sysid or exc.pubid else "entity expansion (possible billion-laughs bomb)"
        raise ReaderError(f"{where}: refused XML with a declared {kind} '{exc.name}'") from exc
    except defusedxml.ExternalReferenceForbidden as exc:
        raise ReaderError(f"{where}: refused XML referencing an external resource ({exc.sysid or exc.pubid})") from exc
    except defusedxml.DefusedXmlException as exc:
        raise ReaderError(f"{where}: refused unsafe XML ({exc})") from exc
    except ET.ParseError as exc:
        raise ReaderError(f"{where}: not well-formed XML ({exc})") from exc
    except RecursionError as exc:
        raise ReaderError(f"{where}: XML nested too deeply") from exc
    except LookupError as exc:  # expat refuses an encoding it does not know ("U-F-8")
        raise ReaderError(f"{where}: XML declares an unknown encoding ({exc}); save it as UTF-8") from exc


def local(tag: object) -> str:
    """'{namespace}name' -> 'name'."""
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def children(el: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in el if local(c.tag) == name]


def child(el: ET.Element | None, *names: str) -> ET.Element | None:
    """First descendant along a path of local names (namespace-agnostic)."""
    cur = el
    for name in names:
        if cur is None:
            return None
        cur = next((c for c in cur if local(c.tag) == name), None)
    return cur


def descendants(el: ET.Element, name: str) -> list[ET.Element]:
    return [d for d in el.iter() if local(d.tag) == name]


def text_of(el: ET.Element | None) -> str:
    return "".join(el.itertext()).strip() if el is not None else ""


def root_name(data: bytes, where: str) -> tuple[str, ET.Element]:
    root = parse_xml(data, where)
    return local(root.tag), root
