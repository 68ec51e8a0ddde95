"""Handing one message to one apprise service, retried with backoff while it fails.

A service that takes HTML (e-mail) gets the HTML form with the thumbnails attached inline
(``cid:`` references); every other service gets the text form, which apprise converts to
the service's own markup.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tenacity import RetryError, Retrying, retry_if_result, stop_after_attempt, wait_exponential

from crawler.notify.config import asset

ATTEMPTS = 3  # per delivery round: waits of 1 s and 2 s between them
WAIT_FIRST = 1.0
WAIT_MAX = 8.0


@dataclass(frozen=True)
class Attachment:
    path: Path  # a file on disk (a listing photo's thumbnail)

    @property
    def name(self) -> str:
        """What the HTML form refers to: ``<img src="cid:NAME">`` (the file's name)."""
        return self.path.name


@dataclass
class Delivered:
    ok: bool
    attempts: int
    error: str | None = None


def service(url: str) -> str:
    """``url`` as apprise shows it with its secrets masked (for lists and logs)."""
    import apprise

    plugin = apprise.Apprise.instantiate(url, asset=asset())
    if plugin is None:
        return url.split("://", 1)[0] + "://…"
    # the query holds only apprise's own settings (retry, overflow...): noise in a list
    return str(plugin.url(privacy=True)).split("?", 1)[0]  # type: ignore[no-untyped-call]


def takes_html(plugin: Any) -> bool:
    """Whether the service renders HTML (its own format, or ``?format=html`` asked)."""
    import apprise

    resolve = getattr(plugin, "resolve_format", None)
    if callable(resolve):  # apprise 2.3 and later
        fmt = resolve(None)
    else:
        declared = plugin.notify_format
        fmt = declared[0] if isinstance(declared, tuple | list) else declared
        fmt = getattr(plugin, "_format_override", None) or fmt
    return bool(fmt == apprise.NotifyFormat.HTML)


def send_once(url: str, title: str, text: str, html: str | None,
              attachments: list[Attachment]) -> str | None:
    """One attempt; None when the service took the message, else why not (one line)."""
    import apprise

    plugin = apprise.Apprise.instantiate(url, asset=asset())
    if plugin is None:
        return "apprise cannot use this URL any more (is the plugin still installed?)"
    html_form = html is not None and takes_html(plugin)
    attach = None
    if html_form and attachments and getattr(plugin, "attachment_support", False):
        attach = apprise.AppriseAttachment(asset=asset())
        for a in dict.fromkeys(attachments):  # two cases may show one photo
            if a.path.is_file():  # a thumbnail deleted since is left out, not an error
                attach.add(str(a.path))
        if hasattr(plugin, "inline") and "inline=" not in url:
            plugin.inline = True  # e-mail: the HTML's cid: images embedded, not files
    sender = apprise.Apprise(asset=asset())
    sender.add(plugin)
    with apprise.LogCapture(level=logging.WARNING,  # type: ignore[no-untyped-call]
                            fmt="%(message)s") as log:
        ok = sender.notify(body=html if html_form and html is not None else text,
                           title=title,
                           body_format=apprise.NotifyFormat.HTML if html_form
                           else apprise.NotifyFormat.TEXT,
                           attach=attach if attach is not None and len(attach) else None)
    if ok:
        return None
    said = [line.strip() for line in log.getvalue().splitlines() if line.strip()]
    return said[-1][:300] if said else "the service did not take the message"


def send(url: str, title: str, text: str, html: str | None = None,
         attachments: list[Attachment] | None = None, attempts: int = ATTEMPTS
         ) -> Delivered:
    """Deliver with up to ``attempts`` tries, waiting longer after each failure."""
    errors: list[str | None] = []

    def attempt() -> str | None:
        try:
            error = send_once(url, title, text, html, attachments or [])
        except Exception as exc:  # a plugin's own bug must not end the sweep either
            error = f"{type(exc).__name__}: {str(exc).strip()[:200]}"
        errors.append(error)
        return error

    retrying = Retrying(stop=stop_after_attempt(max(1, attempts)),
                        wait=wait_exponential(multiplier=WAIT_FIRST, max=WAIT_MAX),
                        retry=retry_if_result(lambda error: error is not None),
                        reraise=False)
    try:
        error = retrying(attempt)
    except RetryError:
        error = errors[-1] if errors else "the service did not take the message"
    return Delivered(error is None, len(errors), error)
