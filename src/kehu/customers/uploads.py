"""Checks on an uploaded file before it is stored: size, allowed type by extension AND by content.

The extension says what the user claims; the first bytes (and, for Office files, the zip's table of
contents) say what the file is. Both must agree, so a renamed program ("报价.pdf" that is really an .exe)
is refused. Errors name the file and the reason.

Settings: KEHU_ATTACHMENT_MAX_MB (default 20) and KEHU_ATTACHMENT_TYPES (extensions, default below).
"""

from __future__ import annotations

import codecs
import hashlib
import unicodedata
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

from django.conf import settings
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.core.errors import ValidationFailed

DEFAULT_MAX_MB = 20
SNIFF_BYTES = 8192
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the container of .doc/.xls/.ppt


def _starts(*magics: bytes) -> Callable[[bytes, IO[bytes]], bool]:
    return lambda head, _file: any(head.startswith(m) for m in magics)


def _webp(head: bytes, _file: IO[bytes]) -> bool:
    return head[:4] == b"RIFF" and head[8:12] == b"WEBP"


def _zip(head: bytes, file: IO[bytes]) -> bool:
    return head[:4] in (b"PK\x03\x04", b"PK\x05\x06") and _zip_names(file) is not None


def _ooxml(folder: str) -> Callable[[bytes, IO[bytes]], bool]:
    """A docx/xlsx/pptx is a zip with [Content_Types].xml and its part folder (word/, xl/, ppt/)."""

    def check(head: bytes, file: IO[bytes]) -> bool:
        if head[:4] != b"PK\x03\x04":
            return False
        names = _zip_names(file)
        return bool(names) and "[Content_Types].xml" in names and any(n.startswith(folder) for n in names)

    return check


def _zip_names(file: IO[bytes]) -> list[str] | None:
    try:
        file.seek(0)
        with zipfile.ZipFile(file) as archive:
            return archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return None
    finally:
        file.seek(0)


def _text(head: bytes, _file: IO[bytes]) -> bool:
    """Plain text: no NUL byte, and UTF-8 (with or without BOM) or GB18030, as Excel in China saves CSV."""
    if b"\x00" in head:
        return False
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            # Incremental: a multi-byte character cut at the end of the sniffed block is not an error.
            codecs.getincrementaldecoder(encoding)().decode(head, final=False)
        except UnicodeDecodeError:
            continue
        return True
    return False


@dataclass(frozen=True)
class FileKind:
    label: str | Promise
    content_type: str
    matches: Callable[[bytes, IO[bytes]], bool]


_PDF = FileKind("PDF", "application/pdf", _starts(b"%PDF-"))
_JPEG = FileKind("JPEG", "image/jpeg", _starts(b"\xff\xd8\xff"))
_OLE = "application/vnd.ms-"
_OX = "application/vnd.openxmlformats-officedocument."
KINDS: dict[str, FileKind] = {
    "pdf": _PDF,
    "png": FileKind("PNG", "image/png", _starts(b"\x89PNG\r\n\x1a\n")),
    "jpg": _JPEG,
    "jpeg": _JPEG,
    "gif": FileKind("GIF", "image/gif", _starts(b"GIF87a", b"GIF89a")),
    "webp": FileKind("WebP", "image/webp", _webp),
    "doc": FileKind("Word", "application/msword", _starts(OLE2)),
    "xls": FileKind("Excel", f"{_OLE}excel", _starts(OLE2)),
    "ppt": FileKind("PowerPoint", f"{_OLE}powerpoint", _starts(OLE2)),
    "docx": FileKind("Word", f"{_OX}wordprocessingml.document", _ooxml("word/")),
    "xlsx": FileKind("Excel", f"{_OX}spreadsheetml.sheet", _ooxml("xl/")),
    "pptx": FileKind("PowerPoint", f"{_OX}presentationml.presentation", _ooxml("ppt/")),
    "txt": FileKind(gettext_lazy("plain text"), "text/plain", _text),
    "csv": FileKind("CSV", "text/csv", _text),
    "zip": FileKind("ZIP", "application/zip", _zip),
}
DEFAULT_TYPES = tuple(KINDS)


def allowed_extensions() -> list[str]:
    configured = getattr(settings, "KEHU_ATTACHMENT_TYPES", None) or DEFAULT_TYPES
    return [ext.lower().lstrip(".") for ext in configured if ext.lower().lstrip(".") in KINDS]


def max_bytes() -> int:
    return int(getattr(settings, "KEHU_ATTACHMENT_MAX_MB", DEFAULT_MAX_MB)) * 1024 * 1024


def clean_filename(name: str) -> str:
    """The name as the user's computer had it, minus any folder part and control characters."""
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in unicodedata.normalize("NFC", name) if unicodedata.category(ch)[0] != "C").strip()
    if len(name) > 200:  # keep the extension when shortening
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 200 - len(ext) - 1] + dot + ext) if dot and len(ext) <= 10 else name[:200]
    return name.strip(". ") or "file"


def extension(name: str) -> str:
    stem, dot, ext = name.rpartition(".")
    return ext.lower() if dot and stem else ""


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f}"


def _refuse(message: str) -> ValidationFailed:
    return ValidationFailed(message, fields={"file": [message]})


@dataclass(frozen=True)
class CheckedFile:
    name: str
    size: int
    content_type: str
    sha256: str


def check_upload(file: Any) -> CheckedFile:
    """Size, extension and content of an uploaded file (a Django File); raises ValidationFailed on "file"."""
    if file is None:
        message = _("Choose a file to upload.")
        raise ValidationFailed(message, fields={"file": [message]})
    name = clean_filename(getattr(file, "name", ""))
    size = file.size or 0
    if size == 0:
        raise _refuse(_("“%(name)s” is empty.") % {"name": name})
    limit = max_bytes()
    if size > limit:
        raise _refuse(
            _("“%(name)s” is %(size)s MB; files may be at most %(limit)s MB.")
            % {"name": name, "size": _megabytes(size), "limit": limit // (1024 * 1024)}
        )
    ext = extension(name)
    allowed = allowed_extensions()
    if not ext:
        raise _refuse(
            _("“%(name)s” has no file extension. Allowed types: %(allowed)s.")
            % {"name": name, "allowed": ", ".join(allowed)}
        )
    if ext not in allowed:
        raise _refuse(
            _("“%(name)s”: .%(ext)s files are not allowed. Allowed types: %(allowed)s.")
            % {"name": name, "ext": ext, "allowed": ", ".join(allowed)}
        )
    kind = KINDS[ext]
    file.seek(0)
    head = file.read(SNIFF_BYTES)
    if not kind.matches(head, file):
        raise _refuse(
            _("“%(name)s” is named .%(ext)s but its content is not a %(kind)s file.")
            % {"name": name, "ext": ext, "kind": kind.label}
        )
    digest = hashlib.sha256()
    file.seek(0)
    for chunk in file.chunks():
        digest.update(chunk)
    file.seek(0)
    return CheckedFile(name=name, size=size, content_type=kind.content_type, sha256=digest.hexdigest())
