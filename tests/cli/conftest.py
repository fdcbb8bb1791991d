import pytest
from django.utils import translation


@pytest.fixture(autouse=True)
def english():
    """Commands print translated text; assert on the English source strings."""
    with translation.override("en"):
        yield
