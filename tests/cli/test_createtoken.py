from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from kehu.accounts import services
from kehu.accounts.models import ApiToken


def createtoken(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("createtoken", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_it_prints_only_the_token_and_the_token_works(tenant_a, api):
    rep = tenant_a.users["sales_rep"]
    out, err = createtoken("--email", rep.email, "--scope", "write", "--expires", "30", "--name", "nightly sync")
    raw = out.strip()
    assert out == raw + "\n" and raw.startswith(services.TOKEN_PREFIX) and " " not in raw
    token = services.token_authenticate(raw)
    assert token is not None and token.user == rep and token.scope == "write" and token.name == "nightly sync"
    assert timedelta(days=29) < token.expires_at - timezone.now() <= timedelta(days=30)
    assert raw not in err and token.prefix in err  # the notes go to stderr; the secret is not repeated
    assert not ApiToken.objects.filter(key_hash=raw).exists()  # only the hash is stored


def test_it_defaults_to_a_read_token_for_a_year(tenant_a):
    out, _ = createtoken("--email", tenant_a.admin.email.upper())
    token = services.token_authenticate(out.strip())
    assert token.scope == "read"
    assert timedelta(days=364) < token.expires_at - timezone.now() <= timedelta(days=365)


def test_an_unknown_email_fails(db):
    with pytest.raises(CommandError, match=r"nobody@example\.com"):
        createtoken("--email", "nobody@example.com")


def test_a_deactivated_user_gets_no_token(tenant_a):
    services.user_deactivate(actor=tenant_a.admin, user=tenant_a.users["analyst"])
    with pytest.raises(CommandError, match="not active"):
        createtoken("--email", tenant_a.users["analyst"].email)
    assert not ApiToken.objects.filter(user=tenant_a.users["analyst"]).exists()


def test_a_non_positive_expiry_fails(tenant_a):
    with pytest.raises(CommandError, match="positive"):
        createtoken("--email", tenant_a.admin.email, "--expires", "0")
