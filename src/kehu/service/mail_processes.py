"""The start of an SMTP daemon's worker process (mail_smtpd.ProcessWorkers). Its own module, importing no model:
a fresh process loads it before Django is set up."""

from __future__ import annotations


def init(databases: dict[str, str]) -> None:
    """Set Django up, on the parent's databases (a test run renames them)."""
    import django

    django.setup()
    from django.db import connections

    for alias, name in databases.items():
        connections[alias].settings_dict["NAME"] = name
