"""Phone numbers, emails and websites in one canonical form, so that duplicates and searches match.

A Chinese mobile is stored as its 11 digits whatever way it was typed (+86 138 0013 8000,
0086-138-0013-8000, 86 13800138000, １３８００１３８０００); a Chinese landline as its area code with the
trunk 0 plus the local number (010 8888 6666 and +86 10 8888 6666 are both 01088886666), an extension
after `#`; any other country as `+` and its digits (E.164).
"""

from __future__ import annotations

import re
import unicodedata

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator, validate_email
from django.utils.translation import gettext_lazy as _

MOBILE_RE = re.compile(r"1[3-9]\d{9}")
# Extension markers people type in China: 010-8888 6666 转 801, ext. 801, x801, #801.
_EXTENSION_RE = re.compile(r"\s*(?:转|分机|ext\.?|x|#)\s*(\d{1,6})\s*$", re.IGNORECASE)
_SEPARATORS_RE = re.compile(r"[\s\-./()]")
_CN_COUNTRY = "86"

PHONE_HELP = _(
    "A mobile has 11 digits and starts with 1 (138 0013 8000); a landline has its area code (010-8888 6666)."
)


def _invalid(message: str) -> ValidationError:
    return ValidationError(message, code="invalid_phone")


def _domestic(digits: str, extension: str) -> str:
    """A number dialled inside China (no country code)."""
    if MOBILE_RE.fullmatch(digits):
        if extension:
            raise _invalid(_("A mobile number has no extension."))
        return digits
    if digits.startswith("1"):
        raise _invalid(_("A mobile number has 11 digits and starts with 13 to 19."))
    suffix = f"#{extension}" if extension else ""
    if digits.startswith("0") and 10 <= len(digits) <= 12:  # area code (010, 021, 0755, ...) + 7-8 digits
        return digits + suffix
    if len(digits) == 10 and digits[:3] in ("400", "800"):  # nationwide service numbers
        return digits + suffix
    if 7 <= len(digits) <= 8 and digits[0] not in "01":  # a local landline without its area code
        return digits + suffix
    raise _invalid(str(PHONE_HELP))


def normalize_phone(raw: str | None) -> str:
    """The canonical form of `raw`, or "" for an empty value. Raises ValidationError when it is not a phone."""
    value = unicodedata.normalize("NFKC", raw or "").strip()  # full-width digits and ＋ become ASCII
    if not value:
        return ""
    extension = ""
    match = _EXTENSION_RE.search(value)
    if match:
        extension, value = match.group(1), value[: match.start()]
    value = _SEPARATORS_RE.sub("", value)
    international = value.startswith(("+", "00"))
    value = value[1:] if value.startswith("+") else value[2:] if value.startswith("00") else value
    if not value.isdigit():
        raise _invalid(_("A phone number may contain only digits, spaces, dashes and a leading +."))
    if not international and len(value) == 13 and value.startswith(_CN_COUNTRY) and MOBILE_RE.fullmatch(value[2:]):
        return value[2:]  # 8613800138000: the + was dropped
    if not international:
        return _domestic(value, extension)
    if value.startswith(_CN_COUNTRY):
        national = value[2:]
        # +86 10 8888 6666 drops the trunk 0 of the area code; some still write +86 010 ...
        if not MOBILE_RE.fullmatch(national) and not national.startswith("0"):
            national = "0" + national
        return _domestic(national, extension)
    if not 7 <= len(value) <= 15:
        raise _invalid(_("An international number has 7 to 15 digits after the country code."))
    return "+" + value + (f"#{extension}" if extension else "")


def phone_search_digits(query: str) -> str:
    """The digits of a search query, for matching normalised phones by any fragment ("1380013")."""
    text = unicodedata.normalize("NFKC", query or "").strip()
    digits = re.sub(r"\D", "", text)
    if text.startswith(("+86", "0086")) and len(digits) > 2:
        digits = digits[4:] if digits.startswith("0086") else digits[2:]
    return digits


# Django's own email patterns, compiled once here: validate_email reaches them through lazy proxies, which
# cost more than the match (an import checks two emails per row).
_EMAIL_USER_RE = re.compile(EmailValidator.user_regex.pattern, EmailValidator.user_regex.flags)
_EMAIL_DOMAIN_RE = re.compile(EmailValidator.domain_regex.pattern, EmailValidator.domain_regex.flags)
_URL_VALIDATOR = URLValidator(schemes=["http", "https"])


def _valid_email(value: str) -> bool:
    """What validate_email accepts through its usual path (a dot-atom or quoted user, a domain name), checked
    with the same patterns; False means "ask validate_email" (an address literal, or an error)."""
    if not value or len(value) > 320 or "@" not in value:
        return False
    user, domain = value.rsplit("@", 1)
    return bool(_EMAIL_USER_RE.match(user)) and (
        domain in validate_email.domain_allowlist or bool(_EMAIL_DOMAIN_RE.match(domain))
    )


def normalize_email(raw: str | None) -> str:
    """Lower-cased and validated; "" for an empty value."""
    value = unicodedata.normalize("NFKC", raw or "").strip().lower()
    if not value:
        return ""
    if _valid_email(value):
        return value
    try:
        validate_email(value)
    except ValidationError as exc:
        raise ValidationError(_("Enter a valid email address, e.g. name@example.com."), code="invalid_email") from exc
    return value


def normalize_website(raw: str | None) -> str:
    """A URL with a scheme: people type "huawei.com" and mean https://huawei.com."""
    value = (raw or "").strip()
    if not value:
        return ""
    if "://" not in value:
        value = "https://" + value
    try:
        _URL_VALIDATOR(value)
    except ValidationError as exc:
        raise ValidationError(_("Enter a valid web address, e.g. www.example.com."), code="invalid_url") from exc
    return value
