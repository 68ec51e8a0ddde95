"""Loading marketplace profiles: the built-in ones in ``spiders/marketplaces/`` (package
data, read, never imported); ``--marketplaces DIR`` adds a folder of the user's own (a
profile there replaces a built-in one of the same name). Every problem is reported as
``path:line:col: message``, all at once.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from crawler import yamlfile
from crawler.exceptions import ConfigError, UnknownMarketplace
from crawler.profiles.model import MarketplaceProfile
from crawler.profiles.selectors import css_problem

BUILTIN_DIR = Path(str(resources.files("spiders") / "marketplaces"))


def load_profile(path: Path) -> MarketplaceProfile:
    """Load and validate one profile file."""
    doc = yamlfile.load(path)
    if doc is None:
        raise ConfigError([f"{path}:1:1: the file is empty; a marketplace profile is a "
                           "mapping of fields (see README, Marketplace profiles)"])
    if not isinstance(doc, dict):
        raise ConfigError([f"{path}:1:1: a marketplace profile is a mapping of fields, "
                           f"not {'a list' if isinstance(doc, list) else 'a single value'}"])
    try:
        base = yamlfile.interpolate(str(doc.get("base_url", "")))
    except KeyError as exc:
        raise ConfigError([f"{yamlfile.where(path, doc, ('base_url',))}: base_url: "
                           f"environment variable {exc.args[0]} is not set and has no "
                           "default (write ${NAME:-default})"]) from exc
    data = dict(doc) | {"base_url": base, "source": str(path)}
    early = _card_problems(path, doc)  # with the others, not only once they are fixed
    try:
        profile = MarketplaceProfile.model_validate(data)
    except ValidationError as exc:
        found = [*early, *yamlfile.problems(path, doc, exc, MarketplaceProfile)]
        raise ConfigError(list(dict.fromkeys(found))) from exc
    if profile.name != path.stem:
        raise ConfigError([f"{yamlfile.where(path, doc, ('name',))}: name: {profile.name!r} "
                           f"must match the file name {path.stem!r}"])
    return profile


def _card_problems(path: Path, doc: Any) -> list[str]:
    """The listing card's selector checked in the raw document: the model checks it only
    once every field is valid (the card is a JSON path for json_api profiles)."""
    search, listing = doc.get("search"), doc.get("listing")
    pagination = search.get("pagination") if isinstance(search, dict) else None
    kind = pagination.get("kind") if isinstance(pagination, dict) else None
    card = listing.get("card") if isinstance(listing, dict) else None
    if kind == "json_api" or not isinstance(card, str):
        return []
    problem = css_problem(card)
    return [] if problem is None else [
        f"{yamlfile.where(path, doc, ('listing', 'card'))}: listing.card: {problem}"]


def load_profiles(extra_dirs: list[Path] | None = None) -> dict[str, MarketplaceProfile]:
    """Every profile: the built-in ones, then the user's (which win), reporting all errors."""
    files: dict[str, Path] = {}
    for folder in [BUILTIN_DIR, *(extra_dirs or [])]:
        if not folder.is_dir():
            raise ConfigError([f"{folder}: no such folder of marketplace profiles"])
        for file in sorted(folder.glob("*.yaml")):
            files[file.stem] = file
    profiles: dict[str, MarketplaceProfile] = {}
    problems: list[str] = []
    for name, file in sorted(files.items()):
        try:
            profiles[name] = load_profile(file)
        except ConfigError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ConfigError(problems)
    return profiles


def select(profiles: dict[str, MarketplaceProfile], names: list[str]
           ) -> list[MarketplaceProfile]:
    """The named profiles (all when ``names`` is empty); unknown names are an error."""
    if not names:
        return list(profiles.values())
    out = []
    for name in names:
        if name not in profiles:
            raise UnknownMarketplace(f"unknown marketplace {name!r}"
                                     f"{yamlfile.hint(name, list(profiles))}"
                                     f": known are {', '.join(sorted(profiles))}; add a "
                                     "profile with --marketplaces DIR")
        out.append(profiles[name])
    return out
