# The single-column organization_id index of ImportRow, which its other indexes leading with it make redundant.

from django.db import migrations
from django.db.models import CASCADE

from kehu.core.migration_ops import drop_organization_index


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_support_grants"),
        ("core", "0007_custdone"),
    ]

    operations = [
        drop_organization_index("importrow", "core_importrow", "core_importrow_organization_id_712fc727", CASCADE),
    ]
