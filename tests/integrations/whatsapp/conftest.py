import pytest


@pytest.fixture(autouse=True)
def _clean_database() -> None:
    """Meta's wire format needs no database."""
