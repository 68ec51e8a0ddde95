"""A Scrapy request as JSON text, so any worker can rebuild it from the queue.

JSON, not pickle (scrapy-redis's default): unpickling what a shared Redis holds runs
whatever code whoever can write to that Redis chose; JSON is data only, reads well in
``redis-cli``, and refuses at push time what the project's rule already forbids (request
meta and callback arguments carry plain data only: names, numbers, paths), instead of a
worker on another machine failing on it later.

The dict is Scrapy's own (``Request.to_dict(spider=...)``, rebuilt with
``scrapy.utils.request.request_from_dict``): callbacks and errbacks travel as spider method
names. Its two bytes fields are encoded: ``body`` as base64 (``body_b64``), header names and
values as latin-1 text, which maps every byte to one character and back.
"""

from __future__ import annotations

import base64
import json
import math
from typing import Any

from scrapy import Request, Spider
from scrapy.http import FormRequest, JsonRequest, XmlRpcRequest
from scrapy.utils.request import request_from_dict

FORMAT = 1
# a queued "_class" is imported by every worker: only Scrapy's own request classes
REQUEST_CLASSES = frozenset(f"{cls.__module__}.{cls.__name__}"
                            for cls in (Request, FormRequest, JsonRequest, XmlRpcRequest))


def request_to_dict(request: Request, spider: Spider | None = None) -> dict[str, Any]:
    """Scrapy's dict for ``request`` (callbacks as names of ``spider``'s methods)."""
    return request.to_dict(spider=spider)


def request_of(data: dict[str, Any], spider: Spider | None = None) -> Request:
    """The request ``data`` describes, callbacks resolved on ``spider``."""
    return request_from_dict(data, spider=spider)


def _check_plain(value: object, where: str) -> None:
    """Refuse what JSON would not give back unchanged (objects, tuples, bytes, NaN)."""
    if value is None or isinstance(value, bool | int | str):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise TypeError(f"{where} is {value!r}: queued requests carry finite numbers only")
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_plain(item, f"{where}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where} has key {key!r}: queued requests carry text keys only")
            _check_plain(item, f"{where}[{key!r}]")
        return
    raise TypeError(f"{where} is a {type(value).__name__}: queued requests carry plain data "
                    "only (text, numbers, booleans, None, lists, dicts); put a name in meta "
                    "and rebuild the object in the worker")


def dumps(data: dict[str, Any]) -> str:
    """JSON text for a request dict; ``TypeError`` (naming the field) for non-plain data."""
    out: dict[str, Any] = {"v": FORMAT}
    for key, value in data.items():
        if key == "body":
            out["body_b64"] = base64.b64encode(bytes(value)).decode("ascii")
        elif key == "headers":
            out["headers"] = {_text(name): [_text(v) for v in values]
                              for name, values in dict(value).items()}
        else:
            if key == "_class" and value not in REQUEST_CLASSES:
                raise TypeError(f"request class {value!r} cannot be queued: only Scrapy's own "
                                "request classes can")
            _check_plain(value, key)
            out[key] = value
    return json.dumps(out, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def loads(text: str | bytes) -> dict[str, Any]:
    """The request dict that ``dumps`` wrote; ``ValueError`` for anything else."""
    data = json.loads(text)
    if not isinstance(data, dict) or data.pop("v", None) != FORMAT:
        raise ValueError(f"not a queued request of format {FORMAT}: {str(text)[:80]!r}")
    if "_class" in data and data["_class"] not in REQUEST_CLASSES:
        raise ValueError(f"queued request names class {data['_class']!r}, which is not one of "
                         "Scrapy's request classes")
    if "body_b64" in data:
        data["body"] = base64.b64decode(data.pop("body_b64"), validate=True)
    if "headers" in data:
        data["headers"] = {name.encode("latin-1"): [v.encode("latin-1") for v in values]
                           for name, values in data["headers"].items()}
    return data


def _text(value: bytes | str) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value
