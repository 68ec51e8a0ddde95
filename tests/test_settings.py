"""The settings every sweep crawler gets: safe defaults and the profile's politeness."""

from __future__ import annotations

from crawler.profiles.loading import load_profiles
from crawler.settings import DEFAULTS, PLAYWRIGHT_HANDLER, for_profile


def test_defaults_are_alphabetised() -> None:
    assert list(DEFAULTS) == sorted(DEFAULTS)


def test_remote_code_execution_surfaces_are_off(chromium: str) -> None:
    for profile in load_profiles().values():
        s = for_profile(profile, db="x.db", sweep_id=1, campaign=None, chromium=chromium)
        # Scrapy 2.19 enables both by default; RemoteControl runs Python sent over HTTP
        assert s["TELNETCONSOLE_ENABLED"] is False
        assert s["REMOTE_CONTROL_ENABLED"] is False


def test_politeness_comes_from_the_profile(chromium: str) -> None:
    profiles = load_profiles()
    tradehub = for_profile(profiles["tradehub"], db="x.db", sweep_id=1, campaign="c")
    assert tradehub["CONCURRENT_REQUESTS_PER_DOMAIN"] == 4
    assert tradehub["ROBOTSTXT_OBEY"] is True and tradehub["AUTOTHROTTLE_ENABLED"] is True
    assert tradehub["DOWNLOAD_MAXSIZE"] == 16 * 1024 * 1024
    assert "DOWNLOAD_HANDLERS" not in tradehub  # HTTP-only: no browser machinery at all
    shopfront = for_profile(profiles["shopfront"], db="x.db", sweep_id=1, campaign=None,
                            timeout=5, chromium=chromium)
    assert shopfront["DOWNLOAD_HANDLERS"]["http"] == PLAYWRIGHT_HANDLER
    assert shopfront["PLAYWRIGHT_LAUNCH_OPTIONS"]["executable_path"] == chromium
    assert shopfront["DOWNLOAD_TIMEOUT"] == 5
    assert shopfront["BRANDSWEEP_CAMPAIGN"] is None


def test_a_compiled_rule_set_survives_scrapys_settings_copy() -> None:
    import copy
    import pickle

    from scrapy.settings import Settings

    from crawler.pipelines.judge import compiled, remember
    from crawler.rules.loader import load_brand

    ruleset = load_brand("acme")
    remember(ruleset)
    profile = load_profiles()["bazaar"]
    s = Settings(for_profile(profile, db="x.db", sweep_id=1, campaign=None, ruleset=ruleset))
    # every Crawler deep-copies its settings: they name the rule file, plain data that
    # copies and pickles, and the judging pipeline finds the compiled rule set by it
    copied = s.copy()
    assert copy.deepcopy(dict(copied)) == dict(copied)
    pickle.dumps(dict(copied))
    assert copied["BRANDSWEEP_RULES_PATH"] == ruleset.path
    assert copied["BRANDSWEEP_RULES_VERSION"] == ruleset.version
    assert compiled(copied["BRANDSWEEP_RULES_PATH"], copied["BRANDSWEEP_RULES_VERSION"],
                    ruleset.today) is ruleset
    assert "BRANDSWEEP_RULESET" not in copied


def test_brandsweeps_own_settings_are_documented() -> None:
    from pathlib import Path

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    for name in DEFAULTS:
        if name.startswith("BRANDSWEEP_"):
            assert f"| `{name}` |" in readme, f"{name} is not in README's settings table"


def test_only_http_and_https_are_fetched_and_timeouts_reach_the_browser(
        chromium: str) -> None:
    from scrapy.settings import Settings

    profiles = load_profiles()
    s = Settings(for_profile(profiles["tradehub"], db="x.db", sweep_id=1, campaign=None,
                             timeout=7, deadline=60))
    assert set(s.getwithbase("DOWNLOAD_HANDLERS")) == {"http", "https"}
    assert s.getfloat("PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT") == 7000
    assert s.getfloat("CLOSESPIDER_TIMEOUT") == 60
    assert s["BRANDSWEEP_BASE_URL"] == profiles["tradehub"].base_url
    browser = Settings(for_profile(profiles["shopfront"], db="x.db", sweep_id=1,
                                   campaign=None, chromium=chromium))
    assert set(browser.getwithbase("DOWNLOAD_HANDLERS")) == {"http", "https"}
    assert browser.getfloat("CLOSESPIDER_TIMEOUT") == 3600
