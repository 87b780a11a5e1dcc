import pytest


@pytest.fixture(autouse=True)
def _clean_database() -> None:
    """The fakes' self-tests need no database."""
