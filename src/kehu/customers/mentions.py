"""@mentions in note bodies.

The note box's picker inserts a structured token, `@[Name](user:ID)`, so a mention survives renamed users
and two colleagues of the same name. Typed by hand (or by an API client), `@email` and `@Name` also work
when they name exactly one active colleague; anything else after an @ is just text ("@home").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TOKEN_RE = re.compile(r"@\[(?P<name>[^\[\]\n]{1,100})\]\(user:(?P<id>\d{1,18})\)")
# A plain mention ends at a space or at punctuation (Chinese text has no spaces: "@王经理，请看").
_WORD = r"[^\s@\[\]()（）,，。;；:：!！?？、\"'“”‘’<>]+"
PLAIN_RE = re.compile(rf"(?<![\w.])@(?P<word>{_WORD}(?:@{_WORD})?)")
TRAILING = ".,;:!?，。；：！？、…\"'”’"


@dataclass(frozen=True)
class Mention:
    text: str  # as written, e.g. "@[张伟](user:12)" or "@zhang@a.test"
    user_id: int | None = None  # structured tokens
    word: str = ""  # plain tokens: an email or a name


def find(body: str) -> list[Mention]:
    """Every mention in `body`, structured ones first, in the order written."""
    found = [Mention(m.group(0), user_id=int(m.group("id"))) for m in TOKEN_RE.finditer(body or "")]
    rest = TOKEN_RE.sub(" ", body or "")
    for m in PLAIN_RE.finditer(rest):
        word = m.group("word").rstrip(TRAILING)
        if word:
            found.append(Mention(f"@{word}", word=word))
    return found


def token(name: str, user_id: int) -> str:
    """The structured token the picker inserts (brackets in names would end it early, so they go)."""
    clean = re.sub(r"[\[\]\n]", "", name).strip() or str(user_id)
    return f"@[{clean[:100]}](user:{user_id})"


def plain(body: str) -> str:
    """The body as people read it: structured tokens shown as @Name."""
    return TOKEN_RE.sub(lambda m: f"@{m.group('name')}", body or "")
