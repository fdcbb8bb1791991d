"""`kehu mail_rotate_passwords`: re-encrypt every stored mailbox password with the newest key of
KEHU_ENCRYPTION_KEYS (see kehu/service/mail_secrets.py)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from kehu.service import mail_secrets
from kehu.service.ticket_models import Queue


class Command(BaseCommand):
    help = "Re-encrypt the stored IMAP passwords of every queue with the newest encryption key."

    def handle(self, *args: Any, **options: Any) -> None:
        done = unreadable = 0
        for queue in Queue.objects.dangerously_all_organizations().exclude(imap_password_encrypted=""):
            try:
                token = mail_secrets.rotate(queue.imap_password_encrypted)
            except mail_secrets.SecretUnreadable:
                unreadable += 1
                self.stderr.write(f"Queue {queue.pk} ({queue.name}): the password cannot be decrypted; enter it again.")
                continue
            Queue.objects.filter(pk=queue.pk).update(imap_password_encrypted=token)
            done += 1
        self.stdout.write(f"{done} mailbox passwords re-encrypted, {unreadable} unreadable.")
