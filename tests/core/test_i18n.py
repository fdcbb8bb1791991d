"""Both catalogues are complete: every translatable string in the code has a Chinese translation, and the
compiled catalogue matches the source one."""

import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "kehu"
ZH_PO = PACKAGE / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"


def _extract(tmp_path: Path) -> polib.POFile:
    work = tmp_path / "kehu"
    shutil.copytree(PACKAGE, work, ignore=shutil.ignore_patterns("vendor", "locale", "__pycache__", "migrations"))
    (work / "locale").mkdir()
    subprocess.run(
        [sys.executable, "-P", "-m", "django", "makemessages", "-l", "zh_Hans", "--no-location", "-i", "static/*"],
        cwd=work,
        check=True,
        capture_output=True,
        env={"DJANGO_SETTINGS_MODULE": "kehu.settings.test", "PATH": "/usr/bin:/bin"},
    )
    return polib.pofile(str(work / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"))


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="GNU gettext is not installed (.ci/run installs it)")
def test_every_string_has_a_chinese_translation(tmp_path):
    extracted = _extract(tmp_path)
    catalogue = {(e.msgctxt, e.msgid): e for e in polib.pofile(str(ZH_PO))}
    missing = []
    for entry in extracted:
        known = catalogue.get((entry.msgctxt, entry.msgid))
        if known is None or not known.translated() or "fuzzy" in known.flags:
            missing.append(entry.msgid)
    assert missing == [], f"{len(missing)} strings lack a Chinese translation (run `make messages`): {missing[:20]}"


def test_the_compiled_catalogue_is_current():
    mo = ZH_PO.with_suffix(".mo")
    compiled = {(e.msgctxt, e.msgid): e.msgstr for e in polib.mofile(str(mo))}
    source = {
        (e.msgctxt, e.msgid): e.msgstr for e in polib.pofile(str(ZH_PO)) if e.translated() and "fuzzy" not in e.flags
    }
    assert {k: v for k, v in source.items() if k[1]} == {k: v for k, v in compiled.items() if k[1]}
