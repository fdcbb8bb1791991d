"""Helpers shared by Kehu's management commands."""

from collections.abc import Iterator
from contextlib import contextmanager

from django.core.management.base import CommandError

from kehu.core.errors import DomainError


def describe(error: DomainError) -> str:
    """The error's message, plus each field's reasons that the message does not already say."""
    lines = [error.message]
    for name, reasons in error.fields.items():
        missing = [str(r) for r in reasons if str(r) not in error.message]
        if missing:
            lines.append(f"  {name}: {' '.join(missing)}")
    return "\n".join(lines)


@contextmanager
def domain_errors() -> Iterator[None]:
    """Turn a service's DomainError into a CommandError: a clear message and exit status 1, no traceback."""
    try:
        yield
    except DomainError as exc:
        raise CommandError(describe(exc)) from exc
