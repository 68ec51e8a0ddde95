"""``brandsweep serve`` (the review workbench), ``browse`` (the store in Datasette),
``listings`` (every stored listing with its verdict) and ``store path``."""

from __future__ import annotations

import contextlib
import socket
from pathlib import Path

import click

from crawler.cli.options import db_option, open_store, rules_option


def _listener(family: socket.AddressFamily) -> socket.socket:
    """A TCP socket for uvicorn. Named IPPROTO_TCP, so asyncio sets TCP_NODELAY on each
    connection (it skips sockets made with proto 0): without it every response waits
    ~40 ms for a delayed ACK."""
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; beyond loopback a --token is required.")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="Port to listen on (0: any free one).")
@click.option("--user", help="Who decides, for the audit trail (default: the OS user).")
@click.option("--token", envvar="BRANDSWEEP_TOKEN",
              help="Every request must carry this token (env BRANDSWEEP_TOKEN); open the "
                   "printed URL once and a cookie keeps it.")
@rules_option
@db_option
def serve(host: str, port: int, user: str | None, token: str | None,
          rules_path: Path | None, db: Path) -> None:
    """The review workbench: triage cases by keyboard, read evidence, export notices."""
    import uvicorn

    from crawler.cases.lifecycle import default_actor
    from crawler.exceptions import WorkbenchExposed
    from crawler.web.app import create_app
    from crawler.web.security import LOCAL_HOSTS

    local = host in LOCAL_HOSTS
    if not local and not token:
        raise WorkbenchExposed(f"--host {host} would let anyone on the network decide "
                               "cases: give --token (or BRANDSWEEP_TOKEN), or leave --host "
                               "at 127.0.0.1")
    open_store(db)
    app = create_app(db, user or default_actor(), token or None, local_only=local,
                     rules_path=rules_path)
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    sock = _listener(family)
    try:
        sock.bind((host.strip("[]"), port))
        sock.listen(128)  # connections wait in the backlog until uvicorn has started
    except OSError as exc:
        sock.close()
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}; "
                                   "choose another --port") from exc
    bound = sock.getsockname()[1]
    shown = f"[{host.strip('[]')}]" if family == socket.AF_INET6 else host
    click.echo(f"brandsweep workbench on http://{shown}:{bound}/"
               + (f"?token={token}" if token else "") + f"  (store {db}, Ctrl-C stops)")
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how it is meant to stop
        server.run(sockets=[sock])


@click.command()
@click.option("--port", type=click.IntRange(0, 65535), default=8001, show_default=True,
              help="Port to listen on, on 127.0.0.1 (0: any free one).")
@db_option
def browse(port: int, db: Path) -> None:
    """The store in Datasette, read-only: tables described, canned queries, evidence
    screenshots as images."""
    import asyncio

    import uvicorn

    from crawler.web.browse import datasette

    open_store(db)
    ds = datasette(db)
    asyncio.run(ds.invoke_startup())
    sock = _listener(socket.AF_INET)
    try:
        sock.bind(("127.0.0.1", port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise click.ClickException(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}; "
                                   "choose another --port") from exc
    click.echo(f"Datasette on http://127.0.0.1:{sock.getsockname()[1]}/  (read-only, "
               "Ctrl-C stops)")
    server = uvicorn.Server(uvicorn.Config(ds.app(), log_level="warning", access_log=False))
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=[sock])

