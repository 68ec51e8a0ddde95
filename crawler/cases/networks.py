"""Seller networks: the seller accounts one operator runs, found after each sweep.

Two sellers of a brand's listings are linked (union-find) when

- they show the same photo file, or photos of their own within ``DEFAULT_MAX_DISTANCE`` of
  each other; a photo of the brand itself does not link (the brand's reference photos,
  anything within ``PUBLIC_DISTANCE`` of one that is byte-identical to it, or a photo
  an authorised seller shows): everyone may lift those, and an edited copy of one links
  only the accounts that show that very file;
- their descriptions give the same contact: an e-mail address, a phone number (8 digits
  or more), or a WeChat, WhatsApp, Telegram or LINE id;
- one came back as the other: a removed case relisted (``cases.link_relistings``).

A photo shown by more than ``MAX_PHOTO_SELLERS`` sellers is a stock photo, not a link.
Each seller gets a network id (table ``seller_networks``); each listing gets the facts
the rules' ``seller`` selections read: its network, how many of the network's other
listings are cases (staged, or confirmed or taken down), how many of this seller's were
taken down.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from crawler.images.facts import Key, image_facts, stored_hashes
from crawler.images.matching import DEFAULT_MAX_DISTANCE, HashIndex
from crawler.rules import text
from crawler.store import Store, now
from crawler.store import cases as case_rows
from crawler.store import networks as network_rows
from crawler.vocab import AGREED_STATUSES

Seller = tuple[str, str]  # (marketplace, seller name)
MAX_PHOTO_SELLERS = 8
TAKEN_DOWN = ("removed", "relisted")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"\+?\d[\d ().-]{6,}\d")
_HANDLE = re.compile(r"\b(?:wechat|weixin|wx|vx|whatsapp|telegram|tg|line)\s*(?:id)?\s*"
                     r"[:：-]?\s*([A-Za-z][\w.-]{3,})", re.IGNORECASE)


def contacts(description: str) -> set[str]:
    """The contact identifiers a listing's text gives, normalised."""
    found = {f"email:{m.casefold()}" for m in _EMAIL.findall(description)}
    for m in _PHONE.findall(description):
        digits = re.sub(r"\D", "", m)
        if len(digits) >= 8:
            found.add(f"phone:{digits}")
    found |= {f"id:{m.casefold().rstrip('.')}" for m in _HANDLE.findall(description)}
    return found


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[Seller, Seller] = {}

    def find(self, x: Seller) -> Seller:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: Seller, b: Seller) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


@dataclass
class Networks:
    """Sellers by network id, and why each network's members are linked."""

    of: dict[Seller, str] = field(default_factory=dict)
    members: dict[str, list[Seller]] = field(default_factory=dict)
    reasons: dict[str, set[str]] = field(default_factory=dict)

    def pairs(self) -> set[tuple[Seller, Seller]]:
        """Every pair of sellers put in one network (for scoring against a truth)."""
        return {(a, b) for m in self.members.values() for a in m for b in m if a < b}


def cluster(store: Store, ruleset: Any, facts: dict[Key, dict[str, Any]] | None = None
            ) -> Networks:
    """The seller networks among the listings ``ruleset``'s keywords found."""
    listings = list(store.listings_for(ruleset.brand.keywords, brand=ruleset.brand_key))
    facts = facts if facts is not None else image_facts(store, ruleset.references)
    authorised = ruleset.authorised
    sellers: dict[Key, Seller] = {}
    uf = _UnionFind()
    by_contact: dict[str, set[Seller]] = defaultdict(set)
    for row in listings:
        if not row.get("seller"):
            continue
        seller = (row["marketplace"], row["seller"])
        folded = text.plain(row["seller"]).text
        if (row["marketplace"], folded) in authorised or (None, folded) in authorised:
            seller = ("", "")  # authorised sellers are nobody's network
        sellers[row["marketplace"], row["listing_id"]] = seller
        if seller != ("", ""):
            uf.find(seller)
            for contact in contacts(row.get("description") or ""):
                by_contact[contact].add(seller)
    reasons: dict[tuple[Seller, Seller], str] = {}

    def link(group: set[Seller], why: str) -> None:
        ordered = sorted(group)
        for other in ordered[1:]:
            if uf.find(ordered[0]) != uf.find(other):
                reasons[ordered[0], other] = why
            uf.union(ordered[0], other)

    for contact, group in by_contact.items():
        if 1 < len(group) <= MAX_PHOTO_SELLERS:
            link(group, f"contact {contact}")
    _link_photos(store, ruleset, listings, sellers, facts, link)
    for new, old in _relistings(store, ruleset.brand_key):
        a, b = sellers.get(new), sellers.get(old)
        if a and b and ("", "") not in (a, b):
            link({a, b}, "relisted")
    out = Networks()
    roots: dict[Seller, list[Seller]] = defaultdict(list)
    for seller in uf.parent:
        roots[uf.find(seller)].append(seller)
    for members in roots.values():
        members.sort()
        digest = hashlib.sha256(json.dumps(members[0]).encode()).hexdigest()[:10]
        net = f"{ruleset.brand_key}-{members[0][0]}-{digest}"
        out.members[net] = members
        for m in members:
            out.of[m] = net
        out.reasons[net] = set()
    for (a, _b), why in reasons.items():
        out.reasons[out.of[a]].add(why.split(" ", 1)[0])
    return out


def _link_photos(store: Store, ruleset: Any, listings: list[dict[str, Any]],
                 sellers: dict[Key, Seller], facts: dict[Key, dict[str, Any]],
                 link: Any) -> None:
    """Link the sellers showing one photo file, or photos of their own that look alike."""
    ref_digests = set(ruleset.reference_digests)
    shown: dict[str, set[Seller]] = defaultdict(set)
    public: set[str] = set(ref_digests)
    own: set[str] = set()
    for row in listings:
        key = (row["marketplace"], row["listing_id"])
        f = facts.get(key)
        seller = sellers.get(key)
        if not f or seller is None:
            continue
        sha = f["photo"]
        if seller == ("", ""):
            public.add(sha)  # an authorised seller shows it: the brand's own photo
            continue
        shown[sha].add(seller)
        ref = f.get("reference")
        if ref is None or ref["distance"] > DEFAULT_MAX_DISTANCE:
            own.add(sha)
    for sha, group in shown.items():
        if sha not in public and 1 < len(group) <= MAX_PHOTO_SELLERS:
            link(group, "photo")
    # photos of their own, re-encoded or resized by the marketplace: perceptually alike
    hashes = stored_hashes(store)
    mine = sorted(sha for sha in own if sha in hashes and sha not in public)
    index = HashIndex((sha, hashes[sha]) for sha in mine)
    for sha in mine:
        close = {m.key for m in index.query(hashes[sha], DEFAULT_MAX_DISTANCE,
                                            limit=MAX_PHOTO_SELLERS + 1)}
        group = set().union(*(shown[c] for c in close))
        if 1 < len(group) <= MAX_PHOTO_SELLERS:
            link(group, "photo")


def _relistings(store: Store, brand: str) -> list[tuple[Key, Key]]:
    return [((a, b), (c, d)) for a, b, c, d in case_rows.relistings(store, brand)]


def save(store: Store, brand: str, networks: Networks
         ) -> list[tuple[str, str, str, str, int, str, str]]:
    """Replace the brand's seller -> network table; return the rows written."""
    at = now()
    rows = [(brand, m, s, net, len(networks.members[net]),
             json.dumps(sorted(networks.reasons.get(net, ()))), at)
            for (m, s), net in networks.of.items()]
    return network_rows.save(store, brand, rows)


def network_facts(store: Store, ruleset: Any, networks: Networks,
                  stages: dict[Key, str | None]) -> dict[Key, dict[str, Any]]:
    """Per brand listing: ``network``, ``network_sellers``, ``network_cases`` (the network's
    other listings that are cases: staged in ``stages``, or confirmed or taken down) and
    ``seller_takedowns``."""
    brand = ruleset.brand_key
    status_of: dict[Key, str] = case_rows.statuses_by_listing(store, brand)
    listings = [(r["marketplace"], r["listing_id"], r.get("seller") or "") for r in
                store.listings_for(ruleset.brand.keywords, brand=brand)]
    per_network: dict[str, set[Key]] = defaultdict(set)
    takedowns: dict[Seller, int] = defaultdict(int)
    for m, lid, seller in listings:
        stage, status = stages.get((m, lid)), status_of.get((m, lid))
        net = networks.of.get((m, seller))
        if net is not None and status != "dismissed" and (
                stage is not None or status in AGREED_STATUSES):
            per_network[net].add((m, lid))
        if status in TAKEN_DOWN:
            takedowns[m, seller] += 1
    out: dict[Key, dict[str, Any]] = {}
    for m, lid, seller in listings:
        net = networks.of.get((m, seller))
        if net is None:
            continue
        out[m, lid] = {"network": net, "network_sellers": len(networks.members[net]),
                       "network_cases": len(per_network[net] - {(m, lid)}),
                       "seller_takedowns": takedowns[m, seller]}
    return out


@dataclass
class Refreshed:
    """What ``refresh`` did: listings with photo facts, networks, verdicts changed."""

    photos: int = 0
    networks: int = 0
    networked_sellers: int = 0
    restaged: int = 0


def refresh(store: Store, ruleset: Any, sweep_id: int | None = None) -> Refreshed:
    """After a crawl: photo facts; verdicts with them (in memory); seller networks, and
    their facts from those verdicts; then the verdicts with every fact, stored where they
    changed. One round from the photos up, so the same store always gives the same
    verdicts."""
    from crawler.rules.backtest import row_of

    brand = ruleset.brand_key
    photos = image_facts(store, ruleset.references)
    done = Refreshed(photos=len(photos))
    rows = list(store.listings_for(ruleset.brand.keywords, brand=brand))
    first: dict[Key, str | None] = {}
    for row in rows:
        key = (row["marketplace"], row["listing_id"])
        first[key] = ruleset.evaluate({**row, "_facts": photos.get(key)}).stage
    found = cluster(store, ruleset, photos)
    save(store, brand, found)
    linked = {n: m for n, m in found.members.items() if len(m) > 1}
    done.networks, done.networked_sellers = len(linked), sum(map(len, linked.values()))
    merged: dict[Key, dict[str, Any]] = {k: dict(v) for k, v in photos.items()}
    for key, facts in network_facts(store, ruleset, found, first).items():
        merged.setdefault(key, {}).update(facts)
    store.save_facts(brand, {k: json.dumps(v, sort_keys=True) for k, v in merged.items()})
    changed = []
    for row in rows:
        key = (row["marketplace"], row["listing_id"])
        new = ruleset.evaluate({**row, "_facts": merged.get(key)})
        if (new.stage, new.score, new.version) != (row["_stage"], row["_score"],
                                                   row["_version"]):
            changed.append(row_of(row, new))
    if changed:
        store.save_evaluations(brand, changed, sweep_id)
    done.restaged = len(changed)
    return done
