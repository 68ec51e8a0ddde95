"""Finding and reading a brand's rule set file, ``rules/<brand>.yaml``.

Sweeps need the brand's search keywords from it; the rule engine reads the rest.
The folder is ``--rules DIR`` (or ``--rules FILE`` for one file), else
``BRANDSWEEP_RULES``, else ``./rules`` when it exists, else the ``rules/`` folder that
ships with brandsweep.
"""

from __future__ import annotations

import os
import re
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from crawler import yamlfile
from crawler.exceptions import ConfigError, UnknownBrand

# the rule sets that ship with brandsweep: package data of the top-level ``rules`` folder
BUILTIN_DIR = Path(str(resources.files("rules")))


class BrandSection(BaseModel):
    model_config = ConfigDict(extra="allow")  # products, sellers, identity: the engine's

    name: str
    keywords: list[str] = Field(min_length=1)


def rules_dir(explicit: Path | None = None) -> Path:
    if explicit is not None:
        return explicit
    if os.environ.get("BRANDSWEEP_RULES"):
        return Path(os.environ["BRANDSWEEP_RULES"])
    local = Path("rules")
    return local if local.is_dir() else BUILTIN_DIR


# a rule set's file name without .yaml: also part of lock and report file names
BRAND_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")


def brand_file(brand: str, folder: Path | None = None) -> Path:
    """``<brand>.yaml`` in the rules folder; ``folder`` may also name the file itself."""
    if folder is not None and folder.is_file():
        return folder
    folder = rules_dir(folder)
    if not BRAND_NAME.fullmatch(brand):
        raise UnknownBrand(f"{brand!r} is not a brand name: a brand is its rule set's file "
                           f"name, lower case letters, digits, - and _ (rules/{{brand}}.yaml)")
    path = folder / f"{brand}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in folder.glob("*.yaml"))
        raise UnknownBrand(f"no rule set for brand {brand!r}: expected {path} "
                           f"(known brands: {', '.join(known) or 'none'})")
    return path


def keywords(brand: str, folder: Path | None = None) -> list[str]:
    """The brand's search keywords, from the ``brand.keywords`` section of its rule set."""
    path = brand_file(brand, folder)
    doc = yamlfile.load(path)
    if not isinstance(doc, dict) or "brand" not in doc:
        raise ConfigError([f"{path}:1:1: a rule set needs a 'brand' section with 'keywords'"])
    try:
        section = BrandSection.model_validate(doc["brand"])
    except ValidationError as exc:
        problems = [f"{yamlfile.where(path, doc, ('brand', *e['loc']))}: brand."
                    f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        raise ConfigError(problems) from exc
    return [" ".join(k.split()) for k in section.keywords]
