"""`kehu`: Django's management commands plus Kehu's own (createorg, createuser, createtoken, audit, ...)."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kehu.settings.embedded")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["kehu", *sys.argv[1:]])


if __name__ == "__main__":
    main()
