"""core.imports.any_of: the chunk look-ups' `IN` lists as one array parameter on PostgreSQL, same rows."""

from kehu.accounts.models import User
from kehu.core.imports import any_of


def test_any_of_finds_what_an_in_list_finds(tenant_a, tenant_b, django_assert_num_queries):
    emails = [*[u.email for u in tenant_a.users.values()][:3], "nobody@nowhere.test", tenant_b.admin.email]
    expected = set(User.objects.filter(email__in=emails, organization=tenant_a.org).values_list("pk", flat=True))
    with django_assert_num_queries(1):
        found = set(
            User.objects.filter(any_of("email", emails), organization=tenant_a.org).values_list("pk", flat=True)
        )
    assert found == expected and len(found) == 3
    ids = sorted(expected)
    assert set(User.objects.filter(any_of("pk", ids)).values_list("pk", flat=True)) == expected
    # Combined with | like the duplicate look-up of an import.
    from django.db.models import Q

    both = User.objects.filter(Q(any_of("email", emails[:1])) | Q(any_of("pk", ids[1:])))
    assert set(both.values_list("pk", flat=True)) == expected


def test_any_of_nothing_finds_nothing(tenant_a):
    assert not User.objects.filter(any_of("email", [])).exists()
