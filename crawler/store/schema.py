"""The store's schema: registered migrations, applied in order by ``migrate`` and recorded
in ``_migrations``. A migration, once released, never changes: a new one follows it."""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils

from crawler.store.db import now

Migration = Callable[[sqlite_utils.Database], None]
MIGRATIONS: list[tuple[str, Migration]] = []


def migration(name: str) -> Callable[[Migration], Migration]:
    def register(fn: Migration) -> Migration:
        MIGRATIONS.append((name, fn))
        return fn
    return register


@migration("0001_sweeps_listings_observations")
def _initial(db: sqlite_utils.Database) -> None:
    db.table("sweeps").create({
        "id": int, "kind": str, "brand": str, "campaign": str, "marketplaces": str,
        "keywords": str, "max_pages": int, "started": str, "finished": str, "status": str,
        "stats": str, "pid": int, "host": str,
    }, pk="id", not_null={"kind", "started", "status"})
    db.table("listings").create({
        "marketplace": str, "listing_id": str, "url": str, "title": str, "description": str,
        "price": str, "price_high": str, "currency": str, "seller": str, "seller_id": str,
        "seller_url": str, "seller_location": str, "ships_from": str, "condition": str,
        "image_urls": str, "units_sold": int, "moq": int, "keywords": str, "campaigns": str,
        "render_mode": str, "first_seen": str, "last_seen": str, "first_sweep": int,
        "last_sweep": int,
    }, pk=("marketplace", "listing_id"), not_null={"url", "title", "first_seen"})
    db.table("observations").create({
        "sweep_id": int, "marketplace": str, "listing_id": str, "seen_at": str, "url": str,
        "title": str, "price": str, "price_high": str, "currency": str, "seller": str,
        "keywords": str, "render_mode": str,
    }, pk=("sweep_id", "marketplace", "listing_id"),
        foreign_keys=[("sweep_id", "sweeps", "id")])
    db.table("observations").create_index(["marketplace", "listing_id"])
    db.table("listings").enable_fts(["title", "description"], create_triggers=True,
                              tokenize="unicode61 remove_diacritics 2")


@migration("0002_fts_only_on_text_changes")
def _fts_on_text_changes(db: sqlite_utils.Database) -> None:
    # every sweep touches last_seen on every listing; re-indexing the text each time
    # was most of the cost of storing a page
    db.execute("drop trigger if exists listings_au")
    db.execute("""
        create trigger listings_au after update of title, description on listings begin
          insert into listings_fts (listings_fts, rowid, title, description)
            values ('delete', old.rowid, old.title, old.description);
          insert into listings_fts (rowid, title, description)
            values (new.rowid, new.title, new.description);
        end""")


@migration("0003_evaluations")
def _evaluations(db: sqlite_utils.Database) -> None:
    # the current verdict of a brand's rule set on each listing; `version` is the rule
    # set's content hash, `matches` the matched rules with their selections' text spans
    db.table("evaluations").create({
        "brand": str, "marketplace": str, "listing_id": str, "version": str, "score": int,
        "stage": str, "matches": str, "evaluated_at": str, "sweep_id": int,
    }, pk=("brand", "marketplace", "listing_id"), not_null={"version", "score"})
    db.table("evaluations").create_index(["brand", "stage"])


@migration("0004_cases_events_evidence_notices")
def _cases(db: sqlite_utils.Database) -> None:
    # a case is a staged listing on its way to a notice; `case_events` is the audit trail
    # (append-only: nothing in these tables is ever deleted)
    db.table("cases").create({
        "id": int, "brand": str, "marketplace": str, "listing_id": str, "stage": str,
        "score": int, "status": str, "opened_at": str, "updated_at": str, "sweep_id": int,
        "relisted_from": int,
    }, pk="id", not_null={"brand", "marketplace", "listing_id", "status", "opened_at"})
    db.table("cases").create_index(["brand", "marketplace", "listing_id"], unique=True)
    db.table("cases").create_index(["brand", "status"])
    db.table("case_events").create({
        "id": int, "case_id": int, "at": str, "by": str, "action": str, "from_status": str,
        "to_status": str, "reason": str, "sweep_id": int,
    }, pk="id", not_null={"case_id", "at", "by", "action"},
        foreign_keys=[("case_id", "cases", "id")])
    db.table("case_events").create_index(["case_id"])
    db.table("evidence").create({
        "case_id": int, "url": str, "captured_at": str, "http_status": int,
        "screenshot": str, "screenshot_sha256": str, "html": str, "html_sha256": str,
        "image_url": str, "image_sha256": str, "title": str, "price": str, "currency": str,
    }, pk="case_id", not_null={"url", "captured_at", "screenshot", "screenshot_sha256",
                               "html", "html_sha256"},
        foreign_keys=[("case_id", "cases", "id")])
    db.table("evidence").create_index(["image_sha256"])
    db.table("notices").create({
        "id": int, "brand": str, "program": str, "marketplace": str, "seller": str,
        "ip_type": str, "status": str, "created_at": str, "created_by": str,
        "submitted_at": str, "submitted_by": str, "sweep_id": int, "part": int, "parts": int,
        "sender": str, "rights": str, "recipient": str, "ruleset_version": str,
    }, pk="id", not_null={"brand", "program", "marketplace", "status", "created_at",
                          "sender"})
    db.table("notice_items").create({
        "notice_id": int, "case_id": int, "position": int, "brand": str, "program": str,
        "marketplace": str, "listing_id": str, "url": str, "title": str, "price": str,
        "currency": str, "seller": str, "reason_code": str, "reason": str, "rules": str,
        "evidence": str,
    }, pk=("notice_id", "case_id"), foreign_keys=[("notice_id", "notices", "id"),
                                                  ("case_id", "cases", "id")])
    # a listing is in at most one notice per program: drafting twice adds nothing
    db.table("notice_items").create_index(["brand", "program", "marketplace", "listing_id"],
                                          unique=True)


@migration("0005_sweep_progress")
def _progress(db: sqlite_utils.Database) -> None:
    # a checkpoint per marketplace, written once its crawler has stored everything, so a
    # sweep killed midway is resumed with only the marketplaces it had not finished
    db.table("sweep_progress").create({
        "sweep_id": int, "marketplace": str, "done_at": str, "status": str,
    }, pk=("sweep_id", "marketplace"), foreign_keys=[("sweep_id", "sweeps", "id")])
    db.table("sweeps").add_column("resumes", int)


@migration("0006_images")
def _images(db: sqlite_utils.Database) -> None:
    # photos stored once by content (the file is IMAGES_DIR/<sha256>.<ext>), their
    # perceptual hashes as signed 64-bit ints (crawler.images.hashing), which listing shows
    # which photo, and per-brand facts the rules read (crawler.images.facts)
    db.table("images").create({
        "sha256": str, "url": str, "content_type": str, "width": int, "height": int,
        "bytes": int, "file": str, "thumbnail": str, "fetched_at": str,
    }, pk="sha256", not_null={"url", "file", "fetched_at"})
    db.table("image_hashes").create({
        "sha256": str, "view": str, "algorithm": str, "value": int,
    }, pk=("sha256", "view", "algorithm"), foreign_keys=[("sha256", "images", "sha256")])
    db.table("listing_images").create({
        "marketplace": str, "listing_id": str, "position": int, "url": str, "sha256": str,
        "status": str, "fetched_at": str,
    }, pk=("marketplace", "listing_id", "position"), not_null={"url", "status"})
    db.table("listing_images").create_index(["sha256"])
    db.table("listing_images").create_index(["url"])
    db.table("listing_facts").create({
        "brand": str, "marketplace": str, "listing_id": str, "facts": str, "computed_at": str,
    }, pk=("brand", "marketplace", "listing_id"), not_null={"facts"})


@migration("0007_seller_networks")
def _seller_networks(db: sqlite_utils.Database) -> None:
    # which seller accounts one operator runs, per brand (crawler.cases.networks)
    networks = db.table("seller_networks")
    networks.create({"brand": str, "marketplace": str, "seller": str, "network": str,
                     "size": int, "reasons": str, "updated_at": str},
                    pk=("brand", "marketplace", "seller"), not_null={"network"})
    networks.create_index(["brand", "network"])  # a network's members


@migration("0008_storefront_notices")
def _storefront_notices(db: sqlite_utils.Database) -> None:
    # a complaint about a whole storefront (a seller, or the accounts of a seller network
    # on one marketplace), citing its listings; once per storefront and program
    db.table("storefront_notices").create({
        "id": int, "brand": str, "program": str, "marketplace": str, "storefront": str,
        "sellers": str, "listings": str, "cases": int, "status": str, "created_at": str,
        "created_by": str, "sweep_id": int, "sender": str, "rights": str, "recipient": str,
        "ruleset_version": str,
    }, pk="id", not_null={"brand", "program", "marketplace", "storefront", "status",
                          "created_at", "sender"})
    db.table("storefront_notices").create_index(
        ["brand", "program", "marketplace", "storefront"], unique=True)


@migration("0009_workbench_indexes")
def _workbench_indexes(db: sqlite_utils.Database) -> None:
    # the workbench's queue: a status's cases by score (ties oldest first) and counted
    # per stage; a seller's other cases, a relisting and a case's notices on every case
    # page (bench/review_ui.py measures them)
    db.execute("create index if not exists idx_cases_queue on cases (status, score desc, id)")
    db.table("cases").create_index(["status", "stage"], if_not_exists=True)
    db.table("cases").create_index(["relisted_from"], if_not_exists=True)
    db.table("listings").create_index(["seller"], if_not_exists=True)
    db.table("notice_items").create_index(["case_id"], if_not_exists=True)


@migration("0010_case_listings_view")
def _case_listings(db: sqlite_utils.Database) -> None:
    # a case with its listing's columns: what the review queue, drafting, evidence,
    # verify and reports read (SQLite flattens it into their queries, indexes and all)
    db.execute("""
        create view if not exists case_listings as
        select c.id, c.brand, c.marketplace, c.listing_id, c.stage, c.score, c.status,
               c.opened_at, c.updated_at, c.sweep_id, c.relisted_from, l.url, l.title,
               l.description, l.price, l.price_high, l.currency, l.seller, l.seller_id,
               l.seller_url, l.seller_location, l.ships_from, l.condition, l.image_urls,
               l.units_sold, l.moq, l.first_seen, l.last_seen
        from cases c join listings l
          on l.marketplace = c.marketplace and l.listing_id = c.listing_id""")


@migration("0011_marketplace_health")
def _marketplace_health(db: sqlite_utils.Database) -> None:
    # one row per marketplace of each sweep; `coverage` is JSON {field: listings with it},
    # `plan` the keywords and page limit (listings and pages compare only within one plan),
    # `degraded` JSON: the figures that fell ("listings", "pages" or a field's name)
    db.table("marketplace_health").create({
        "sweep_id": int, "marketplace": str, "kind": str, "brand": str, "campaign": str,
        "plan": str, "status": str, "listings": int, "pages": int, "coverage": str,
        "degraded": str, "recorded_at": str,
    }, pk=("sweep_id", "marketplace"), not_null={"status", "listings", "pages", "coverage"},
        foreign_keys=[("sweep_id", "sweeps", "id")])
    db.table("marketplace_health").create_index(["brand", "marketplace", "sweep_id"])


@migration("0012_notify_outbox")
def _outbox(db: sqlite_utils.Database) -> None:
    # one row per message and service; nothing is deleted, `sent_at` says it went out
    outbox = db.table("notify_outbox")
    outbox.create({
        "id": int, "created_at": str, "kind": str, "brand": str, "sweep_id": int,
        "triggers": str, "url": str, "service": str, "title": str, "body_text": str,
        "body_html": str, "attachments": str, "status": str, "attempts": int, "rounds": int,
        "last_error": str, "last_attempt_at": str, "sent_at": str, "claimed_by": str,
        "claimed_at": str,
    }, pk="id", not_null={"created_at", "kind", "url", "title", "body_text", "status"})
    outbox.create_index(["status", "id"])  # what is left to send, oldest first


@migration("0013_detail_readings")
def _detail_readings(db: sqlite_utils.Database) -> None:
    # the last detail page read of each listing: when, the card it was read for (title
    # and price, as the spider read them) and the values it gave (JSON {field: value}),
    # so a repeat sweep completes an unchanged listing without fetching its page again
    # (spiders.readings); a failed fetch writes nothing, so it is retried
    db.table("detail_readings").create({
        "marketplace": str, "listing_id": str, "fetched_at": str, "title": str,
        "price": str, "price_high": str, "currency": str, "fields": str, "sweep_id": int,
    }, pk=("marketplace", "listing_id"), not_null={"fetched_at", "title", "fields"})


@migration("0014_indexes_at_scale")
def _indexes_at_scale(db: sqlite_utils.Database) -> None:
    # what a store of a million listings needs (bench/store_scale.py measures it,
    # tests/test_store_query_plans.py checks the plans):
    # - a listing's verdicts of every brand (`listings`, the workbench's listings page):
    #   the primary key starts with the brand, so without this each listing scanned them all
    db.table("evaluations").create_index(["marketplace", "listing_id"], if_not_exists=True)
    # - the suspects each of the last sweeps saw (the report's history): the brand's staged
    #   listings, a tenth of its verdicts, in an index of their own
    db.execute("create index if not exists idx_evaluations_staged on evaluations "
               "(brand, marketplace, listing_id, stage) where stage is not null")
    # - a listing's sightings by sweep: its previous price (the report's price drops) and
    #   the sweeps that saw a staged listing, from the index alone; it replaces the
    #   (marketplace, listing_id) index of 0001, of which it is an extension
    db.execute("create index if not exists idx_observations_listing_sweep on observations "
               "(marketplace, listing_id, sweep_id)")
    db.execute("drop index if exists idx_observations_marketplace_listing_id")
    # - the cases a sweep opened and the relistings it linked (the report)
    db.table("cases").create_index(["sweep_id"], if_not_exists=True)
    db.table("case_events").create_index(["sweep_id"], if_not_exists=True)
    # - `review list --stage` / `--marketplace` a page at a time, oldest first (an index
    #   ends in the rowid, the case id: rows come in id order and the page stops the
    #   read), their counts, and the filter menus' values
    db.table("cases").create_index(["stage"], if_not_exists=True)
    db.table("cases").create_index(["marketplace"], if_not_exists=True)
    # every sighting assigns title and description, and `after update of` fires on the
    # assignment, not the change: re-index the text only when it did change
    db.execute("drop trigger if exists listings_au")
    db.execute("""
        create trigger listings_au after update of title, description on listings
        when old.title is not new.title or old.description is not new.description begin
          insert into listings_fts (listings_fts, rowid, title, description)
            values ('delete', old.rowid, old.title, old.description);
          insert into listings_fts (rowid, title, description)
            values (new.rowid, new.title, new.description);
        end""")


@migration("0015_covering_indexes_for_reports")
def _covering_indexes(db: sqlite_utils.Database) -> None:
    # the report of a million-listing store read half its pages from two tables' rows,
    # one random page per row, for one or two columns each: these two indexes of 0014
    # and 0009 get those columns, so the same lookups end in the index (their names
    # stay: each is an extension of the one it replaces). Each is built in one pass over
    # its table and a sort of the keys, once: on the bench's store (a million listings,
    # two million observations, 100,000 cases) all of 0015 took 3.5 s of CPU (4 s on an
    # idle machine, 30 s at a load of 6 on two cores).
    # - a listing's previous sighting's price (the report's price drops)
    db.execute("drop index if exists idx_observations_listing_sweep")
    db.execute("create index idx_observations_listing_sweep on observations "
               "(marketplace, listing_id, sweep_id, price)")
    # - a seller's listings on a marketplace, as keys (the report's seller networks: their
    #   cases and photos), not only their rowids
    db.execute("drop index if exists idx_listings_seller")
    db.execute("create index idx_listings_seller on listings (seller, marketplace, "
               "listing_id)")
    # - `review list --brand` / `--marketplace` counted per stage (past a first page) from
    #   the index, not from each case's row (a hundred thousand cases: under a second)
    db.table("cases").create_index(["brand", "stage"], if_not_exists=True)
    db.table("cases").create_index(["marketplace", "stage"], if_not_exists=True)


def migrate(db: sqlite_utils.Database) -> list[str]:
    """Apply migrations not yet recorded, each in its own transaction; return the names
    applied."""
    applied = set()
    if "_migrations" in db.table_names():
        applied = {r["name"] for r in db.table("_migrations").rows}
    done = []
    for name, fn in MIGRATIONS:
        if name in applied:
            continue
        with db.conn:
            fn(db)
            db.table("_migrations").insert({"name": name, "applied": now()}, pk="name")
        done.append(name)
    return done
