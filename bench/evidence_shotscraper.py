"""Benchmark: evidence capture, brandsweep against shot-scraper, on the same listing pages.

Both tools take a full-page PNG of the same listing detail pages of the fixture world (an
equal share of each marketplace; shopfront draws its product with scripts), in the same
Chromium binary (``brandsweep browser`` names it; ``BRANDSWEEP_CHROMIUM`` picks another),
each through its own command line, timed from process start to exit:

- brandsweep: ``brandsweep evidence capture`` on a store holding one open case per page,
  as a sweep leaves them. It does more than take the screenshot: it also keeps the HTML as
  served, fetches the first image, hashes the files and records each in the store.
- shot-scraper: ``shot-scraper multi`` on a YAML list of the same pages. It has no
  executable-path option, so it is pointed at the binary through Playwright's own lookup:
  ``PLAYWRIGHT_BROWSERS_PATH`` names a temporary folder laid out as Playwright's browser
  cache, whose headless-shell entry is a symlink to the binary (headless Playwright
  launches the headless shell). It gets brandsweep's closed-network flags through
  ``--browser-arg`` (this machine needs them: root, no network), nothing else.
  ``page.goto`` waits for the load event, which static pages fire after their images; for
  pages whose profile says what to wait for (``evidence.wait_for``) its ``wait_for`` gets
  that selector, and for every page that every image on it has finished loading.

Viewports: brandsweep's is 1280x900, shot-scraper's default 1280x720 (a height would
turn its full-page shot off); where a page is shorter than the viewport, brandsweep's PNG
is the larger one. Each round also prints CPU seconds a page (the tool's processes,
Playwright's driver and Chromium's, all of them: the bench makes itself the subreaper of
what the tools start, so Chromium's renderers, orphaned when their browser exits, are
waited for and counted too) and the load average as the tool finished: on a loaded
machine wall time follows the CPU share a tool gets more than its own work.

Images loaded in both: every PNG must be 1280 px wide, and where each page shows its
product photo (found by loading the page once beforehand), the PNG must show that photo:
the mean difference of the region from the photo, scaled to it, is under ``MAX_DIFF``
(measured: under 2 where the photo shows, over 50 where images were blocked).

``shot-scraper multi`` takes one page at a time; brandsweep takes up to
``crawler.cases.pacing.CONCURRENCY`` at once. For information, the bench also runs the
pages split over that many ``shot-scraper multi`` processes at once (``--split``), as one
would to give it the same concurrency.

Rounds turn which tool goes first. Target: brandsweep at least 2x the pages/s of one
``shot-scraper multi`` run.

    .venv/bin/python bench/evidence_shotscraper.py [--rounds 3] [--pages 200] [--split N]
"""

from __future__ import annotations

import argparse
import ctypes
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from PIL import Image, ImageChops, ImageStat

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crawler.browser.chromium import LAUNCH_ARGS, find_chromium, launch_options
from crawler.cases import lifecycle as cases
from crawler.cases.pacing import CONCURRENCY
from crawler.items import Listing
from crawler.profiles import loading as profiles
from crawler.store import Store
from crawler.store import evidence as evidence_rows
from fixtures.catalogue import Catalogue
from fixtures.server import FixtureServer

BIN = Path(sys.executable).parent
MARKETS = ("bazaar", "megamart", "tradehub", "shopfront")
BRAND = "acme"
WIDTH = 1280
MAX_DIFF = 24.0  # mean per-channel difference (0-255) of a shown photo from its source
IMAGES_DONE = "[...document.images].every((i) => i.complete)"


def pick(catalogue: Catalogue, n: int) -> list[tuple[str, str, str, str]]:
    """(marketplace, listing id, detail path, image path) of ``n`` listings, an equal
    share of each marketplace, in catalogue order."""
    per = -(-n // len(MARKETS))
    out = []
    for market in MARKETS:
        mine = [x for x in catalogue.listings if x.marketplace == market][:per]
        out += [(market, x.listing_id, x.path, x.image_path) for x in mine]
    return out[:n]


def wait_condition(wait_for: str | None) -> str:
    """The JavaScript condition shot-scraper waits for: the profile's selector (if any)
    and every image complete."""
    if not wait_for:
        return IMAGES_DONE
    return f"document.querySelector({json.dumps(wait_for)}) !== null && {IMAGES_DONE}"


def photo_boxes(urls: list[str], waits: list[str]) -> list[tuple[int, int, int, int, str]]:
    """Where each page shows its first loaded image at 1280 px wide: (x, y, w, h, src),
    page coordinates. Loaded once here, outside the timings, in the same binary."""
    from playwright.sync_api import sync_playwright

    js = """() => { const i = [...document.images].find((i) => i.naturalWidth > 0);
        if (!i) return null; const r = i.getBoundingClientRect();
        return [r.left + scrollX, r.top + scrollY, r.width, r.height, i.currentSrc]; }"""
    boxes = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(**launch_options())  # type: ignore[arg-type]
        page = browser.new_page(viewport={"width": WIDTH, "height": 900})
        for url, cond in zip(urls, waits, strict=True):
            page.goto(url, wait_until="load")
            page.wait_for_function(cond)
            box = page.evaluate(js)
            assert box is not None, f"{url}: no loaded image on the page"
            x, y, w, h, src = box
            boxes.append((round(x), round(y), round(w), round(h), src))
        browser.close()
    return boxes


def photo_diff(png: Path, box: tuple[int, int, int, int, str], photos: dict[str, Image.Image]
               ) -> float:
    """Mean per-channel difference between the PNG's region at ``box`` and the photo."""
    x, y, w, h, src = box
    if src not in photos:
        with urllib.request.urlopen(src, timeout=30) as got:
            photos[src] = Image.open(io.BytesIO(got.read())).convert("RGB")
    shot = Image.open(png).convert("RGB")
    region = shot.crop((x, y, x + w, y + h))
    expected = photos[src].resize(region.size, Image.Resampling.BILINEAR)
    return float(statistics.mean(ImageStat.Stat(ImageChops.difference(region, expected)).mean))


def check_pngs(name: str, pngs: list[Path], boxes: list[tuple[int, int, int, int, str]],
               photos: dict[str, Image.Image]) -> str:
    """Assert every PNG is a full-width page showing its photo; one line of what was seen."""
    heights, diffs = [], []
    for png, box in zip(pngs, boxes, strict=True):
        assert png.is_file(), f"{name}: {png} was not written"
        with Image.open(png) as im:
            assert im.format == "PNG", f"{name}: {png} is {im.format}, not PNG"
            width, height = im.size
        assert width == WIDTH and height >= 600, f"{name}: {png} is {width}x{height}"
        heights.append(height)
        diff = photo_diff(png, box, photos)
        assert diff < MAX_DIFF, (f"{name}: {png} does not show the photo at {box[:4]} "
                                 f"(mean difference {diff:.1f} >= {MAX_DIFF})")
        diffs.append(diff)
    return (f"{len(pngs)} PNGs {WIDTH} px wide, {min(heights)}-{max(heights)} px high, "
            f"photo shown on each (mean difference {statistics.mean(diffs):.1f}, worst "
            f"{max(diffs):.1f}; limit {MAX_DIFF:g})")


def open_cases(db: Path, base: str, chosen: list[tuple[str, str, str, str]]) -> dict[int, str]:
    """A store with one open case per listing, as a sweep leaves it: case id -> URL."""
    store = Store(db)
    store.migrate()
    sweep = store.start_sweep(kind="sweep", brand=BRAND, campaign=None,
                              marketplaces=sorted({m for m, *_ in chosen}), keywords=[BRAND],
                              max_pages=1)
    items = [Listing(m, lid, base + path, f"listing {lid}", BRAND, "http", price="20.00",
                     currency="USD", image_urls=[base + image])
             for m, lid, path, image in chosen]
    store.save(sweep, items)
    store.save_evaluations(BRAND, [(x.marketplace, x.listing_id, "v1", 10, "review", "[]")
                                   for x in items], sweep)
    opened = cases.sync(store, BRAND, "bench", sweep).opened
    urls = {case: url for case, url, *_ in evidence_rows.missing(store, BRAND)}
    assert len(opened) == len(chosen) == len(urls), (len(opened), len(chosen), len(urls))
    return urls


def ours(base: str, tmp: Path, n: int, chosen: list[tuple[str, str, str, str]],
         order: list[str]) -> tuple[float, list[Path]]:
    """``brandsweep evidence capture``: seconds, and the PNGs in ``order`` of URL."""
    db = tmp / f"ours{n}.db"
    by_url = {url: case for case, url in open_cases(db, base, chosen).items()}
    started = time.perf_counter()
    done = subprocess.run([str(BIN / "brandsweep"), "evidence", "capture", "--db", str(db),
                           "--brand", BRAND, "--by", "bench"], capture_output=True, text=True,
                          env=dict(os.environ, BRANDSWEEP_FIXTURE_URL=base))
    seconds = time.perf_counter() - started
    assert done.returncode == 0, (done.returncode, done.stdout, done.stderr)
    assert done.stdout.startswith(f"{len(chosen)} captured,"), done.stdout
    folder = db.with_name(db.stem + "-evidence")
    return seconds, [folder / f"case-{by_url[url]}" / "screenshot.png" for url in order]


def browsers_path(tmp: Path) -> Path:
    """A folder laid out as Playwright's browser cache whose headless shell (what
    Playwright launches for a headless Chromium) is our binary."""
    from playwright.sync_api import sync_playwright

    cache = tmp / "ms-playwright"
    # Playwright's driver reads the variable when it starts: ask it where, under a folder
    # of ours, it looks for the headless shell ("Executable doesn't exist at <path>")
    os.environ["PLAYWRIGHT_BROWSERS_PATH"] = str(cache)
    try:
        with sync_playwright() as pw:
            pw.chromium.launch(headless=True, args=list(LAUNCH_ARGS)).close()
    except Exception as exc:
        said = str(exc)
        assert "Executable doesn't exist at " in said, said
        wanted = said.split("Executable doesn't exist at ", 1)[1].split()[0]
    else:
        raise AssertionError("Playwright launched a browser from an empty cache")
    finally:
        del os.environ["PLAYWRIGHT_BROWSERS_PATH"]
    assert wanted.startswith(str(cache)), wanted
    link = Path(wanted)
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(find_chromium())
    return cache


def theirs(tmp: Path, name: str, urls: list[str], waits: list[str], cache: Path,
           processes: int = 1) -> tuple[float, list[Path]]:
    """``shot-scraper multi`` (``processes`` of them at once, each on its share of the
    pages): seconds, and the PNGs in the order of ``urls``."""
    out = tmp / name
    out.mkdir()
    pngs = [out / f"{i:04d}.png" for i in range(len(urls))]
    shots = [{"url": u, "output": str(p), "wait_for": w}
             for u, p, w in zip(urls, pngs, waits, strict=True)]
    runs = []
    for k in range(processes):
        config = tmp / f"{name}-{k}.yml"
        config.write_text(json.dumps(shots[k::processes]))  # YAML is a superset of JSON
        args = [str(BIN / "shot-scraper"), "multi", str(config), "--silent", "--fail"]
        args += [f"--browser-arg={flag}" for flag in LAUNCH_ARGS]
        runs.append(args)
    env = dict(os.environ, PLAYWRIGHT_BROWSERS_PATH=str(cache))
    started = time.perf_counter()
    procs = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env) for args in runs]
    outcomes = [(p.communicate(), p.returncode) for p in procs]
    seconds = time.perf_counter() - started
    for (stdout, stderr), code in outcomes:
        assert code == 0, (code, stdout, stderr[-2000:])
    return seconds, pngs


PR_SET_CHILD_SUBREAPER = 36  # Linux prctl(2)


def adopt_orphans() -> bool:
    """Make this process the subreaper of its descendants: a process whose parent exits
    (Chromium's renderers and zygote when the browser goes) becomes our child, so its
    CPU time reaches ``RUSAGE_CHILDREN`` once we wait for it. False where it cannot."""
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def reap(seconds: float = 15.0) -> None:
    """Wait for every descendant left over (orphans we adopted), at most ``seconds``."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return  # none left
        if pid == 0:
            time.sleep(0.05)


def cpu_seconds() -> float:
    """User + system CPU seconds of every finished, waited-for descendant so far (the
    tools' own processes, their Playwright drivers and Chromium's processes)."""
    reap()
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def version(tool: str) -> str:
    from importlib.metadata import version as of

    return f"{tool} {of(tool)}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--split", type=int, default=CONCURRENCY,
                        help="also run this many shot-scraper processes at once, each on "
                             "its share of the pages (default: brandsweep's pages at once, "
                             f"{CONCURRENCY}); 1: not")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    chromium = find_chromium()
    print(f"browser (both tools): {chromium}; {version('brandsweep')}, "
          f"{version('shot-scraper')}, {version('playwright')}; CPU counts orphaned "
          f"processes: {'yes' if adopt_orphans() else 'no (no subreaper here)'}")
    cache = browsers_path(tmp)
    with FixtureServer(port=0, hard=False, seed=7) as server:
        os.environ["BRANDSWEEP_FIXTURE_URL"] = server.url
        markets = profiles.load_profiles()
        chosen = pick(server.app.catalogue, args.pages)
        urls = [server.url + path for _, _, path, _ in chosen]
        waits = [wait_condition(markets[m].evidence.wait_for) for m, *_ in chosen]
        boxes = photo_boxes(urls, waits)
        photos: dict[str, Image.Image] = {}
        print(f"{len(urls)} listing pages: " + ", ".join(
            f"{sum(1 for c in chosen if c[0] == m)} {m}" for m in MARKETS))
        split = f"shot-scraper x{args.split}"
        rates: dict[str, list[float]] = {}
        for tool in ["brandsweep", "shot-scraper", *([split] if args.split > 1 else [])]:
            rates[tool] = []
        for n in range(args.rounds):
            tools = ["brandsweep", "shot-scraper", *([split] if args.split > 1 else [])]
            order = tools[n % len(tools):] + tools[:n % len(tools)]  # who goes first turns
            seen = {}
            cpu = {}
            load = {}
            for tool in order:
                before = cpu_seconds()
                if tool == "brandsweep":
                    seen[tool] = ours(server.url, tmp, n, chosen, urls)
                else:
                    seen[tool] = theirs(tmp, f"shots{n}-{len(seen)}", urls, waits, cache,
                                        args.split if tool == split else 1)
                load[tool] = os.getloadavg()[0]
                cpu[tool] = cpu_seconds() - before
            print(f"round {n + 1}: " + "; ".join(
                f"{tool} {seen[tool][0]:.1f}s = {len(urls) / seen[tool][0]:.2f} pages/s "
                f"({cpu[tool] / len(urls) * 1000:.0f} ms CPU a page, load {load[tool]:.1f})"
                for tool in tools))
            for tool in tools:
                rates[tool].append(len(urls) / seen[tool][0])
                print(f"  {tool}: {check_pngs(tool, seen[tool][1], boxes, photos)}")
        for tool, rs in rates.items():
            mid = statistics.median(rs)
            print(f"{tool}: median {mid:.2f} pages/s, rounds within "
                  f"{(max(rs) - min(rs)) / mid * 100:.0f}% of it (max - min)")
        for tool in list(rates)[1:]:
            ratios = sorted(o / t for o, t in zip(rates["brandsweep"], rates[tool],
                                                  strict=True))
            ratio = statistics.median(ratios)
            verdict = (f"; target >= 2: {'met' if ratio >= 2 else 'MISSED'}"
                       if tool == "shot-scraper" else "")
            print(f"pages/s brandsweep / {tool}: median {ratio:.2f} (range {ratios[0]:.2f}-"
                  f"{ratios[-1]:.2f}{verdict})")


if __name__ == "__main__":
    main()
