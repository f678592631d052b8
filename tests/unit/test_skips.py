"""tests/skips.py: in CI a skip fails unless the allow-list names it; the allow-list itself is well-formed."""

from __future__ import annotations

from pathlib import Path

import pytest

import tests.skips as skips

pytest_plugins = ["pytester"]

SUITE = """
import pytest

def test_runs():
    assert True

def test_skips_for_no_reason():
    pytest.skip("no database")

@pytest.mark.skipif(True, reason="data missing")
def test_allowed():
    pass

@pytest.mark.xfail(reason="known")
def test_expected_failure():
    assert False
"""
CONFTEST = """
import pytest

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    from tests.skips import fail_unexpected_skip
    outcome = yield
    fail_unexpected_skip(item, outcome.get_result())
"""


@pytest.fixture
def suite(pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_suite=SUITE)
    allow = tmp_path / "allowed_skips.yml"
    allow.write_text("- test: test_suite.py::test_allowed\n  reason: the data set lives outside the project\n")
    monkeypatch.setattr(skips, "ALLOW_LIST", allow)
    return pytester


def test_in_ci_an_unlisted_skip_fails_and_a_listed_one_stays_a_skip(suite: pytest.Pytester,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    result = suite.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1, skipped=1, xfailed=1)
    result.stdout.fnmatch_lines(["*skipped in CI (*no database*), and allowed_skips.yml does not list it*"])


def test_outside_ci_skips_are_skips(suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    suite.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1, skipped=2, xfailed=1)


def test_the_projects_allow_list_gives_a_reason_for_each_entry() -> None:
    allowed = skips.allowed_skips()
    assert allowed and all(len(reason) > 20 for reason in allowed.values())
    assert skips.allowance("tests/unit/test_segments.py::test_evaluate_online_retail", allowed)
    assert skips.allowance("tests/unit/test_segments.py::test_k_is_the_silhouette_argmax", allowed) is None


def test_an_entry_without_a_reason_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "allowed.yml"
    bad.write_text("- test: tests/x.py::test_y\n")
    with pytest.raises(pytest.UsageError, match="needs a test and a reason"):
        skips.allowed_skips(bad)
