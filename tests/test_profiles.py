"""Marketplace profiles load, validate, and point at the line to fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.exceptions import ConfigError, UnknownMarketplace
from crawler.profiles.loading import load_profile, load_profiles, select

BAZAAR = (Path(__file__).parent.parent / "spiders" / "marketplaces" / "bazaar.yaml").read_text()


def test_builtin_profiles_load() -> None:
    profiles = load_profiles()
    assert set(profiles) == {"bazaar", "shopfront", "megamart", "tradehub"}
    assert profiles["shopfront"].search.pagination.kind == "infinite_scroll"
    assert profiles["tradehub"].search_url("acme backpack", 3).endswith(
        "/tradehub/search?keywords=acme+backpack&beginPage=3")


def test_base_url_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRANDSWEEP_FIXTURE_URL", "http://127.0.0.1:1234")
    assert load_profiles()["bazaar"].base_url == "http://127.0.0.1:1234/bazaar"


def _write(tmp_path: Path, text: str, name: str = "bazaar") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path


def test_every_problem_is_reported_with_its_line(tmp_path: Path) -> None:
    broken = BAZAAR.replace("  render: auto", "  rendr: auto").replace(
        "    title: .s-item__title::text", "    titel: .s-item__title::text").replace(
        "  concurrency: 4", "  concurrency: 0")
    path = _write(tmp_path, broken)
    with pytest.raises(ConfigError) as info:
        load_profile(path)
    problems = info.value.problems
    assert any(p.startswith(f"{path}:10:3: search.rendr:") and "unknown field 'rendr'" in p
               and "did you mean 'render'" in p for p in problems), problems
    assert any(p.startswith(f"{path}:21:5:") and "unknown listing field 'titel'" in p
               and "did you mean 'title'" in p for p in problems), problems
    assert any(p.startswith(f"{path}:37:3: politeness.concurrency") for p in problems), \
        problems
    assert len(problems) == 3


def test_duplicate_keys_are_rejected(tmp_path: Path) -> None:
    path = _write(tmp_path, BAZAAR.replace("currency: USD", "currency: USD\ncurrency: EUR"))
    with pytest.raises(ConfigError, match=r"bazaar.yaml:\d+:\d+: .*duplicate"):
        load_profile(path)


def test_yaml_syntax_error_is_located(tmp_path: Path) -> None:
    path = _write(tmp_path, BAZAAR.replace("  render: auto", "  render: [auto"))
    with pytest.raises(ConfigError, match=r"bazaar.yaml:\d+:\d+: "):
        load_profile(path)


def test_a_regex_re2_refuses_is_a_load_error(tmp_path: Path) -> None:
    path = _write(tmp_path, BAZAAR.replace('regex: "^from (.*)$"', r'regex: "(a)\\1"'))
    with pytest.raises(ConfigError, match="RE2 cannot compile"):
        load_profile(path)


def test_env_without_default_must_be_set(tmp_path: Path) -> None:
    path = _write(tmp_path, BAZAAR.replace("${BRANDSWEEP_FIXTURE_URL:-http://127.0.0.1:8900}",
                                           "${NO_SUCH_VAR_FOR_TEST}"))
    with pytest.raises(ConfigError, match="NO_SUCH_VAR_FOR_TEST is not set"):
        load_profile(path)


def test_user_folder_adds_and_overrides(tmp_path: Path) -> None:
    _write(tmp_path, BAZAAR.replace("name: bazaar", "name: mybazaar"), "mybazaar")
    profiles = load_profiles([tmp_path])
    assert "mybazaar" in profiles and "bazaar" in profiles


def test_unknown_marketplace_suggests(tmp_path: Path) -> None:
    with pytest.raises(UnknownMarketplace, match=r"unknown marketplace 'bazar'.*did you "
                                                 r"mean 'bazaar'"):
        select(load_profiles(), ["bazar"])


def test_every_bad_selector_is_reported_at_once(tmp_path: Path) -> None:
    broken = BAZAAR.replace("  card: li.s-item", "  card: li[[").replace(
        "    title: .s-item__title::text", "    title: '//h3[[['").replace(
        '  selectors: ["#captcha-form", ".g-recaptcha"]', '  selectors: ["#captcha-form", "a[["]'
    ).replace('    description: "#desc p::text"', '    description: "p::txt"')
    path = _write(tmp_path, broken)
    with pytest.raises(ConfigError) as info:
        load_profile(path)
    problems = info.value.problems
    assert f"{path}:16:3: listing.card: CSS selector 'li[[' does not parse" in problems[0]
    assert any(p.startswith(f"{path}:21:5: listing.fields.title: XPath '//h3[[['")
               for p in problems), problems
    assert any(p.startswith(f"{path}:30:5: detail.fields.description: CSS selector "
                            "'p::txt' does not parse") for p in problems), problems
    assert any(p.startswith(f"{path}:32:") and "blocked.selectors.1: CSS selector 'a[['"
               in p for p in problems), problems
    assert len(problems) == 4


def test_parsel_extensions_are_valid_css(tmp_path: Path) -> None:
    profile = load_profile(_write(tmp_path, BAZAAR))
    assert profile.listing.fields["image_urls"].css == "img::attr(src)"


@pytest.mark.parametrize(("written", "kind", "value"), [
    (".none", "css", ".none"),
    ("//p[@class='none']", "xpath", "//p[@class='none']"),
    ("{css: p.none}", "css", "p.none"),
    ("{xpath: '//p'}", "xpath", "//p"),
    ("{text: No results for}", "text", "No results for"),
])
def test_no_results_takes_css_xpath_or_text(tmp_path: Path, written: str, kind: str,
                                            value: str) -> None:
    path = _write(tmp_path, BAZAAR.replace("  no_results: .srp-save-null-search",
                                           f"  no_results: {written}"))
    marker = load_profile(path).listing.no_results
    assert marker is not None and getattr(marker, kind) == value


def test_misspelt_detail_field_is_located(tmp_path: Path) -> None:
    path = _write(tmp_path, BAZAAR.replace('    description: "#desc p::text"',
                                           "    sellr: .seller::text"))
    with pytest.raises(ConfigError) as info:
        load_profile(path)
    assert info.value.problems == [f"{path}:30:5: detail.fields.sellr: unknown listing "
                                   "field 'sellr' (did you mean 'seller'?)"]


def test_refresh_days_defaults_to_a_week_and_takes_zero(tmp_path: Path) -> None:
    assert load_profile(_write(tmp_path, BAZAAR)).detail.refresh_days == 7
    path = _write(tmp_path, BAZAAR.replace("  when: never\n",
                                           "  when: never\n  refresh_days: 0\n"))
    assert load_profile(path).detail.refresh_days == 0
    path = _write(tmp_path, BAZAAR.replace("  when: never\n",
                                           "  when: never\n  refresh_days: 0.5\n"))
    assert load_profile(path).detail.refresh_days == 0.5


@pytest.mark.parametrize(("value", "says"), [
    ("-1", "greater than or equal to 0"), ("a week", "valid number"),
    ("5000", "less than or equal to 3650"), ("[7]", "valid number"),
    ("true", "a number of days")])
def test_a_bad_refresh_days_is_located(tmp_path: Path, value: str, says: str) -> None:
    path = _write(tmp_path, BAZAAR.replace("  when: never\n",
                                           f"  when: never\n  refresh_days: {value}\n"))
    with pytest.raises(ConfigError) as info:
        load_profile(path)
    [problem] = info.value.problems
    assert problem.startswith(f"{path}:29:3: detail.refresh_days:"), problem
    assert says in problem, problem
