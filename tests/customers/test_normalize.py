import pytest
from django.core.exceptions import ValidationError

from kehu.customers.normalize import normalize_email, normalize_phone, normalize_website, phone_search_digits


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13800138000", "13800138000"),
        ("+86 138 0013 8000", "13800138000"),
        ("+86-138-0013-8000", "13800138000"),
        ("0086 138 0013 8000", "13800138000"),
        ("8613800138000", "13800138000"),
        ("138 0013 8000", "13800138000"),
        ("１３８ ００１３ ８０００", "13800138000"),  # full-width digits from a Chinese IME
        ("＋８６ １３８００１３８０００", "13800138000"),
        ("010-8888 6666", "01088886666"),
        ("(010) 8888-6666", "01088886666"),
        ("+86 10 8888 6666", "01088886666"),  # the trunk 0 comes back
        ("+86 0755 1234 5678", "075512345678"),
        ("021-6288 1234 转 801", "02162881234#801"),
        ("021-6288 1234 ext. 801", "02162881234#801"),
        ("400-800-8888", "4008008888"),
        ("6288 1234", "62881234"),
        ("+44 20 7946 0958", "+442079460958"),
        ("001 212 555 0100", "+12125550100"),
        ("", ""),
        ("   ", ""),
        (None, ""),
    ],
)
def test_it_normalises_phones(raw, expected):
    assert normalize_phone(raw) == expected


def test_it_treats_plus86_and_bare_mobiles_as_the_same_number():
    assert normalize_phone("+86 138 0013 8000") == normalize_phone("13800138000")


@pytest.mark.parametrize(
    "raw",
    [
        "12345",  # starts like a mobile, too short
        "1380013800",  # ten digits
        "12800138000",  # 12x is not a mobile prefix
        "abc",
        "138-0013-8000x",  # stray letter
        "138 0013 8000 转 12",  # mobiles have no extension
        "+1 23",  # international, too short
        "0123",  # area code without a number
        "+86 138",
    ],
)
def test_it_refuses_what_is_not_a_phone(raw):
    with pytest.raises(ValidationError) as exc:
        normalize_phone(raw)
    assert exc.value.messages[0]


def test_it_extracts_search_digits():
    assert phone_search_digits("1380013") == "1380013"
    assert phone_search_digits("+86 138 0013") == "1380013"
    assert phone_search_digits("0086 1380013") == "1380013"
    assert phone_search_digits("138-0013") == "1380013"


def test_it_lowercases_and_validates_emails():
    assert normalize_email("  Zhang.Wei@Example.COM ") == "zhang.wei@example.com"
    assert normalize_email("zhang＠example.cn") == "zhang@example.cn"  # full-width @
    assert normalize_email("") == ""
    for bad in ("zhang", "zhang@", "@example.com", "a b@example.com"):
        with pytest.raises(ValidationError):
            normalize_email(bad)


def test_it_adds_a_scheme_to_websites():
    assert normalize_website("huawei.com") == "https://huawei.com"
    assert normalize_website("http://example.cn/x") == "http://example.cn/x"
    assert normalize_website("") == ""
    with pytest.raises(ValidationError):
        normalize_website("not a site")
    with pytest.raises(ValidationError):
        normalize_website("javascript://alert(1)")


def test_emails_are_accepted_and_refused_exactly_as_django_validates_them():
    # normalize_email checks the usual address with Django's own patterns compiled once and asks
    # validate_email for the rest: the outcome must be the same for every address.
    from django.core.validators import validate_email

    cases = [
        "a@b.cn",
        "zhang.wei+crm@example.com.cn",
        "x@localhost",
        "x@[127.0.0.1]",
        "x@[::1]",
        "x@[999.1.1.1]",
        '"quoted user"@example.com',
        "a..b@example.com",
        ".a@example.com",
        "a@-b.com",
        "a@b-.com",
        "a@b",
        "a@b.c",
        "a@b.com.",
        "a@@b.com",
        "a@b..com",
        "a@xn--fiqs8s.cn",
        "张伟@例子.中国",
        "a@例子.中国",
        "a@" + "x" * 64 + ".com",
        "a@" + "x" * 63 + ".com",
        "a" * 310 + "@example.com",
        "a@b.123",
    ]
    for value in cases:
        try:
            validate_email(value)
            expected = value
        except ValidationError:
            expected = None
        try:
            got = normalize_email(value)
        except ValidationError as exc:
            assert exc.code == "invalid_email"
            got = None
        assert got == expected, value
