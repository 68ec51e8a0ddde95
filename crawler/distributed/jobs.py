"""What a worker needs to run one marketplace's requests of a distributed sweep.

A coordinator queues each marketplace of its sweep under a queue id of its own (one
leased queue "sweep" in ``crawler.distributed.queue`` per marketplace, so each has its own
accounting and can be cleared alone), and records a ``Job`` beside it. The queue id is
derived from the store (host and absolute path) and the store's sweep id, so two
coordinators with two stores never share one, and a coordinator resuming an interrupted
sweep can find, and clear, what that sweep left in Redis.
"""

from __future__ import annotations

import hashlib
import socket
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from crawler.profiles.model import MarketplaceProfile


def store_token(db: Path) -> str:
    """12 hex digits naming the store at ``db`` on this host."""
    where = f"{socket.gethostname()}:{Path(db).resolve()}"
    return hashlib.sha256(where.encode()).hexdigest()[:12]


def queue_id(db: Path, sweep_id: int, marketplace: str) -> str:
    """The queue of ``marketplace`` in sweep ``sweep_id`` of the store at ``db``."""
    return f"{store_token(db)}.{sweep_id}.{marketplace}"


def profile_digest(profile: MarketplaceProfile) -> str:
    """A digest of everything a profile says (not where it was read from): a worker whose
    profile differs from the coordinator's would read pages differently."""
    text = profile.model_dump_json(exclude={"source"})
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class Job:
    """One marketplace of one distributed sweep, as the workers see it (plain data)."""

    marketplace: str
    profile_digest: str
    keywords: list[str]
    max_pages: int | None
    timeout: float | None  # seconds per page attempt (DOWNLOAD_TIMEOUT), None: default
    browser: bool = False  # the marketplace switched to the browser during the sweep
    coordinator: str = field(default_factory=socket.gethostname)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def of(cls, data: dict[str, Any]) -> Job:
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in names})
