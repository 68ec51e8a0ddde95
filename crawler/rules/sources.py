"""The files a rule set names beside itself: the authorised sellers (inline or a CSV), term
lists, the brand's reference photos. Each is read with the limits every YAML file has,
its bytes folded into the rule set's version, and a problem reported at the line that
names it."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from crawler import yamlfile
from crawler.exceptions import ConfigError
from crawler.rules import text
from crawler.rules.model import RuleSetFile


class SourceReader:
    """What the loader's compiler reads from disk; it gives ``path`` (the rule set file),
    ``model``, ``digest`` (the version being hashed) and ``error``."""

    path: Path
    model: RuleSetFile
    digest: Any  # a hashlib sha256 object

    def error(self, loc: tuple[int | str, ...], message: str,
              severity: str = "error") -> None:
        raise NotImplementedError

    def _authorised(self) -> set[tuple[str | None, str]]:
        spec = self.model.brand.authorised_sellers
        out: set[tuple[str | None, str]] = set()
        if isinstance(spec, list):
            for entry in spec:
                if isinstance(entry, str):
                    out.add((None, text.plain(entry).text))
                else:
                    out.add((entry.marketplace, text.plain(entry.seller).text))
            return out
        path = self._file(spec.file, ("brand", "authorised_sellers", "file"))
        if path is None:
            return out
        content = self._text(path, ("brand", "authorised_sellers", "file"))
        if content is None:
            return out
        with io.StringIO(content, newline="") as f:
            reader = csv.DictReader(f)
            if not reader.fieldnames or "seller" not in reader.fieldnames:
                self.error(("brand", "authorised_sellers", "file"),
                           f"{path}: the CSV needs a header with 'seller' (and optionally "
                           "'marketplace')")
                return out
            for row in reader:
                if row.get("seller"):
                    out.add((row.get("marketplace") or None, text.plain(row["seller"]).text))
        return out

    def _references(self) -> list[tuple[str, str, Any]]:
        """The brand's reference photos, hashed; their bytes are part of the version."""
        from crawler.images import reference

        folder_name = self.model.brand.reference_images
        if not folder_name:
            return []
        loc = ("brand", "reference_images")
        try:
            photos = reference.load(self.path.parent / folder_name)
        except reference.ReferenceFolderError as exc:
            self.error(loc, str(exc))
            return []
        for name, digest, _hashes in photos:
            self.digest.update(f"{folder_name}/{name}".encode() + b"\0" + digest.encode())
        return photos

    def _file(self, name: str, loc: tuple[int | str, ...]) -> Path | None:
        try:
            path = (self.path.parent / name).resolve()
            # a FIFO or device would block or never end; the size limit holds here too
            data = yamlfile.read_text(path).encode()
        except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop
            self.error(loc, f"cannot read {self.path.parent / name}: "
                       f"{getattr(exc, 'strerror', None) or exc}; paths are relative to "
                       "the rule set file")
            return None
        except ConfigError as exc:
            self.error(loc, "; ".join(exc.problems))
            return None
        self.digest.update(name.encode() + b"\0" + data)
        return path

    def _text(self, path: Path, loc: tuple[int | str, ...]) -> str | None:
        """A list or CSV file's text; a binary, non-UTF-8 or huge one is a problem
        reported at the rule set's line that names it."""
        try:
            return yamlfile.read_text(path)
        except ConfigError as exc:
            self.error(loc, "; ".join(exc.problems))
            return None
