"""Shared fixtures: paths to the repository, the shared development data and the sample."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO / ".." / "shared" / "data").resolve()

# Never let the default runner try to download Prism, and keep Presidio/tldextract offline.
os.environ.setdefault("TLDEXTRACT_CACHE", str(REPO / ".cache" / "tldextract"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not beside the repository")
    return SHARED_DATA


def pytest_collection_modifyitems(config, items):
    """Slow tests first: with two test processes (`make test` uses pytest-xdist), the longest files
    start at once instead of leaving one process alone at the end."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
