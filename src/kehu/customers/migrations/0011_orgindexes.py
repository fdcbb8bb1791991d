# The single-column organization_id indexes that other indexes leading with the column make redundant.

from django.db import migrations
from django.db.models import CASCADE, PROTECT

from kehu.core.migration_ops import drop_organization_index


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_support_grants"),
        ("customers", "0010_custsearch"),
    ]

    operations = [
        drop_organization_index("contact", "customers_contact", "customers_contact_organization_id_067c191e", PROTECT),
        drop_organization_index(
            "customertag", "customers_customertag", "customers_customertag_organization_id_10b1713d", CASCADE
        ),
    ]
