"""``brandsweep verify``: are the listings of submitted notices gone?"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from crawler.cli.options import by_option, db_option, json_option, marketplaces_dir_option
from crawler.cli.options import echo_json as _echo_json
from crawler.cli.options import open_store as _open


@click.command()
@click.option("--brand", required=True, help="Check this brand's submitted cases.")
@click.option("--notify", "notify_urls", multiple=True, metavar="URL",
              help="Send the removals found to this apprise URL too (repeatable; the "
                   "rule set's notify: is used as well).")
@marketplaces_dir_option
@by_option
@db_option
@json_option
def verify(brand: str, notify_urls: tuple[str, ...], marketplaces_dir: tuple[Path, ...],
           by: str, db: Path, as_json: bool) -> None:
    """Re-fetch every submitted listing through its marketplace profile: gone ->
    removed, still there -> still_live. Exit 3 if some could not be checked."""
    from crawler.cases import removal as checker
    from crawler.exceptions import UnknownBrand
    from crawler.notify import config
    from crawler.profiles import loading as profiles
    from crawler.rules import files as ruleset

    try:  # verify needs no rule set; without one there is no notify: either
        own = config.from_rule_file(ruleset.brand_file(brand))
    except UnknownBrand:
        own = []
    channels = config.for_run(own, notify_urls)  # checked before anything is fetched
    store = _open(db)
    result = checker.run(store, brand, profiles.load_profiles(list(marketplaces_dir)), by)
    if channels:
        from crawler import notify

        line = notify.after_verify(store, channels, brand=brand,
                                   removed=result.removed).line()
        if line:
            click.echo(f"brandsweep: {line}", err=True)
    if as_json:
        _echo_json({"removed": result.removed, "still_live": result.still_live,
                    "unknown": [{"case": c, "why": w} for c, w in result.unknown]})
    else:
        click.echo(f"{len(result.removed)} removed, {len(result.still_live)} still live, "
                   f"{len(result.unknown)} could not be checked")
        for case_id, why in result.unknown:
            click.echo(f"  case {case_id}: {why}", err=True)
    sys.exit(result.exit_code)

