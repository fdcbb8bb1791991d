from kehu.accounts.models import User
from kehu.core import audit


def test_it_creates_two_tenants_with_every_role(tenant_a, tenant_b):
    assert tenant_a.admin.organization == tenant_a.org
    assert User.objects.filter(organization=tenant_b.org).count() == 9
    assert audit.verify() == []
