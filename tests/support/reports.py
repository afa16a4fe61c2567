"""What each phase of a test reported, kept on the test's item (by ``tests/conftest.py``), for
fixtures that act when the test failed: a screenshot of a page, for instance."""

from __future__ import annotations

import pytest

REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


def failed(item: pytest.Item) -> pytest.TestReport | None:
    """The report of the test's call if it failed, else None."""
    call = item.stash.get(REPORTS, {}).get("call")
    return call if call is not None and call.failed else None
