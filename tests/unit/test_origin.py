"""Origin parsing and the allow-list: pure functions."""

from __future__ import annotations

import pytest

from agent.origin import (
    DEV_EXTENSION_ID,
    InvalidOrigin,
    OriginPolicy,
    is_extension_id,
    parse_origin,
    parse_pattern,
)


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("https://Portal.Gov.VN", "https://portal.gov.vn"),
        ("https://portal.gov.vn:443", "https://portal.gov.vn"),
        ("https://portal.gov.vn:8443", "https://portal.gov.vn:8443"),
        ("http://localhost:8990", "http://localhost:8990"),
        ("http://127.0.0.1", "http://127.0.0.1"),
        ("http://[::1]:3000", "http://[::1]:3000"),
    ],
)
def test_origins_are_normalised(raw: str, normal: str) -> None:
    assert str(parse_origin(raw)) == normal


@pytest.mark.parametrize(
    "raw",
    [
        "null",
        "",
        "portal.gov.vn",
        "ftp://portal.gov.vn",
        "http://portal.gov.vn",
        "https://portal.gov.vn/path",
        "https://user@portal.gov.vn",
        "https://portal.gov.vn:99999",
        "https://portal.gov.vn:",
        "https://por tal.gov.vn",
        " https://portal.gov.vn",
        "https://*.gov.vn",
        "https://portal..gov.vn",
        "file:///etc/passwd",
        "chrome-extension://abcdef",
    ],
)
def test_bad_origins_are_refused(raw: str) -> None:
    with pytest.raises(InvalidOrigin):
        parse_origin(raw)


@pytest.mark.parametrize(
    "raw",
    ["https://*.vn", "https://*", "http://*.gov.vn", "https://a.*.gov.vn", "https://**.gov.vn"],
)
def test_too_broad_or_malformed_patterns_are_refused(raw: str) -> None:
    with pytest.raises(InvalidOrigin):
        parse_pattern(raw)


def test_exact_entry_matches_only_itself() -> None:
    policy = OriginPolicy.from_strings(["https://portal.gov.vn"])
    assert policy.check("https://portal.gov.vn").allowed
    assert policy.check("https://PORTAL.gov.vn:443").allowed
    assert not policy.check("https://a.portal.gov.vn").allowed
    assert not policy.check("https://portal.gov.vn:444").allowed
    assert not policy.check("http://portal.gov.vn").allowed
    assert not policy.check("https://portal.gov.vn.evil.com").allowed


def test_wildcard_admits_subdomains_but_not_parent_or_lookalikes() -> None:
    policy = OriginPolicy.from_strings(["https://*.gov.vn"])
    decision = policy.check("https://dichvucong.gov.vn")
    assert decision.allowed and decision.via_wildcard
    assert policy.check("https://a.b.hue.gov.vn").allowed
    assert not policy.check("https://gov.vn").allowed
    assert not policy.check("https://evilgov.vn").allowed
    assert not policy.check("https://gov.vn.evil.com").allowed
    assert not policy.check("https://x.gov.vn:8443").allowed


def test_exact_entry_wins_over_wildcard_for_pairing() -> None:
    policy = OriginPolicy.from_strings(["https://*.gov.vn", "https://portal.gov.vn"])
    assert not policy.check("https://portal.gov.vn").via_wildcard
    assert policy.check("https://other.gov.vn").via_wildcard


def test_empty_policy_allows_nothing() -> None:
    assert not OriginPolicy().check("https://portal.gov.vn").allowed
    assert OriginPolicy().check("garbage").origin is None


def test_only_listed_extensions_are_bridges() -> None:
    firefox = "0f3c1f2e-9a4b-4c1d-8e7f-123456789abc"
    policy = OriginPolicy((), frozenset({DEV_EXTENSION_ID, firefox}))
    assert policy.is_bridge(f"chrome-extension://{DEV_EXTENSION_ID}")
    assert policy.is_bridge(f"moz-extension://{firefox}")
    assert not policy.is_bridge(f"moz-extension://{DEV_EXTENSION_ID}0")
    assert not policy.is_bridge("chrome-extension://" + "a" * 32)
    assert not policy.is_bridge(f"https://{DEV_EXTENSION_ID}.example")
    assert is_extension_id(firefox) and is_extension_id(DEV_EXTENSION_ID)
    assert not is_extension_id(firefox.upper()) and not is_extension_id("abc")
