import pytest


@pytest.fixture(autouse=True)
def _clean_database() -> None:
    """The kit's tests need no database."""
