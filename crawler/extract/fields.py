"""Reading a profile's field specs out of a page: CSS, XPath, JSON-LD or JSON paths."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

import re2
from lxml import etree
from parsel import Selector
from parsel.csstranslator import css2xpath

from crawler.profiles.model import FieldSpec
from crawler.profiles.selectors import XPATH_NAMESPACES

Value = str | list[str] | None


def json_ld(sel: Selector | None) -> dict[str, Any] | None:
    """The page's schema.org Product (or first) JSON-LD object, if any parses."""
    found: list[dict[str, Any]] = []
    if sel is None:
        return None
    for raw in sel.css('script[type="application/ld+json"]::text').getall():
        try:
            data = json.loads(raw)
        except ValueError:
            continue
        for obj in data if isinstance(data, list) else data.get("@graph", [data]):
            if isinstance(obj, dict):
                found.append(obj)
    products = [o for o in found if o.get("@type") in ("Product", ["Product"])]
    chosen = products or found
    return chosen[0] if chosen else None


def dig(data: Any, path: str) -> Any:
    """``dig({"a": {"b": [1]}}, "a.b.0") == 1``; None when any step is missing."""
    for part in path.split("."):
        if isinstance(data, dict):
            data = data.get(part)
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data


@lru_cache(maxsize=1024)
def _xpath(css: str | None, xpath: str | None) -> etree.XPath:
    """A field's selector compiled once: parsel translates and re-parses it on every call,
    which was most of the cost of reading a page of listings. Plain strings come back:
    lxml's "smart" strings each build a proxy of their parent element, through a Python
    class lookup on HTML trees, and nothing here asks for the parent."""
    return etree.XPath(css2xpath(css) if css is not None else xpath,
                       namespaces=XPATH_NAMESPACES,
                       smart_strings=False)


_NAMES = re.compile(r"[#.]([A-Za-z_][\w-]*)")


@lru_cache(maxsize=256)
def _required_names(css: str) -> tuple[str, ...]:
    """The ids and classes every match of a simple selector must carry (``#a.b c`` needs
    ``a``, ``b``); nothing for a selector with alternatives, escapes, quotes or
    pseudo-classes, where that reading would not be safe."""
    if any(c in css for c in ",:[\\\"'"):
        return ()
    return tuple(_NAMES.findall(css))


def cannot_match(css: str, source: str) -> bool:
    """True when ``css`` cannot match the page whose HTML is ``source``, because an id or
    class it needs is nowhere in the text: a substring test instead of a walk of the whole
    tree, for selectors that usually find nothing (block-page markers)."""
    return any(name not in source for name in _required_names(css))


def select(css: str, node: Any) -> list[Any]:
    """The elements (or strings) a CSS selector finds under a page or card, through the
    compiled selector; ``field`` reads a card found this way like a parsel ``Selector``."""
    tree = root(node)
    if isinstance(tree, etree._Element):
        found: list[Any] = _xpath(css, None)(tree)
        return found
    return list(node.css(css))


@lru_cache(maxsize=1024)
def _re2(pattern: str) -> Any:
    return re2.compile(pattern)


def _strings(found: Any) -> list[str]:
    if not isinstance(found, list):
        return [str(found)] if found is not None else []
    out = []
    for v in found:
        if isinstance(v, etree._Element):
            out.append(etree.tostring(v, encoding="unicode", method="html", with_tail=False))
        else:
            out.append(str(v))
    return out


def root(node: Any) -> Any:
    """The lxml element behind a parsel ``Selector`` or a Scrapy response (or the element
    itself)."""
    if isinstance(node, etree._Element):
        return node
    root = getattr(node, "root", None)
    if root is None and hasattr(node, "selector"):
        root = node.selector.root
    return root


_root = root  # its former name, for callers written before markers needed it


def _finish(spec: FieldSpec, values: list[str]) -> Value:
    if spec.regex:
        pattern = _re2(spec.regex)
        kept = []
        for v in values:
            m = pattern.search(v)
            if m:
                kept.append(m.group(1) if m.groups() else m.group(0))
        values = kept
    values = [v for v in (" ".join(v.split()) for v in values) if v]
    if spec.all:
        return values
    return values[0] if values else None


def field(spec: FieldSpec, node: Any = None, ld: dict[str, Any] | None = None,
          item: Any = None) -> Value:
    """One field's value from a card or page (``node``: a parsel ``Selector`` or Scrapy
    response), the page's JSON-LD, or a JSON item."""
    if (spec.css is not None or spec.xpath is not None) and node is not None:
        tree = root(node)
        if isinstance(tree, etree._Element):
            return _finish(spec, _strings(_xpath(spec.css, spec.xpath)(tree)))
        found = node.css(spec.css) if spec.css is not None else node.xpath(spec.xpath)
        return _finish(spec, found.getall())
    source = ld if spec.jsonld is not None else item
    path = spec.jsonld if spec.jsonld is not None else spec.jsonpath
    found = dig(source, path) if source is not None and path else None
    if found is None:
        return None
    values = [str(v) for v in found] if isinstance(found, list) else [str(found)]
    return _finish(spec, values)


def fields(specs: dict[str, FieldSpec], node: Any,
           ld: dict[str, Any] | None = None) -> dict[str, Value]:
    return {name: field(spec, node, ld) for name, spec in specs.items()}
