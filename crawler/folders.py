"""Where a store's files live: the evidence and photo folders beside the store file
(``brandsweep.db`` -> ``brandsweep-evidence/``, ``brandsweep-images/``).

Kept apart from the code that fills them (``crawler.cases.evidence`` with its browser,
``crawler.pipelines.images`` with Scrapy), so a reader of the folders, the sweep report,
does not import a browser and a crawler to learn two paths.
"""

from __future__ import annotations

from pathlib import Path


def evidence_dir(store_path: str | Path) -> Path:
    """The evidence folder that belongs to the store at ``store_path``."""
    path = Path(store_path)
    return path.with_name(path.stem + "-evidence")


def images_dir(store_path: str | Path) -> Path:
    """Where photos of the store at ``store_path`` are kept: ``<name>-images/`` beside it."""
    path = Path(store_path)
    return path.with_name(f"{path.stem}-images")
