import pytest


@pytest.fixture(autouse=True)
def _clean_database() -> None:
    """The lock's tests need no database."""
