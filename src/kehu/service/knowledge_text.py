"""Article text: plain text in, structured blocks out (templates render them, autoescaped), and the terms
that search and suggestions compare.

The body is plain text: blank lines separate paragraphs, a line starting with "## " is a heading, lines
starting with "- " (or "* ", "1. ") are list items, and http(s) addresses become links. Nothing the author
types is ever rendered as HTML, so an article cannot carry a script to the public help centre.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

_URL_RE = re.compile(r"https?://[^\s<>\"'，。；、）)]+", re.IGNORECASE)
_ITEM_RE = re.compile(r"^\s*(?:[-*•]|\d{1,2}[.、)])\s+")
_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_RUN_RE = re.compile(rf"[{_CJK}]+|[a-z0-9][a-z0-9_\-]*[a-z0-9]|[a-z0-9]")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

# Two-character words that say nothing about a topic (greetings, pronouns, politeness) and short English
# words: they would make every ticket "share terms" with every article.
STOP_TERMS = {
    "您好",
    "你好",
    "我们",
    "你们",
    "他们",
    "我的",
    "你的",
    "请问",
    "谢谢",
    "感谢",
    "麻烦",
    "一下",
    "一个",
    "这个",
    "那个",
    "什么",
    "怎么",
    "可以",
    "是否",
    "没有",
    "已经",
    "还是",
    "因为",
    "所以",
    "如果",
    "但是",
    "问题",
    "时候",
    "现在",
    "今天",
    "需要",
    "希望",
    "以及",
    "的话",
    "了吗",
    "是不",
    "不是",
    "有没",
    "请帮",
    "the",
    "and",
    "for",
    "you",
    "your",
    "with",
    "this",
    "that",
    "are",
    "was",
    "have",
    "has",
    "not",
    "but",
    "can",
    "how",
    "what",
    "when",
    "please",
    "thanks",
    "thank",
    "hello",
    "from",
    "our",
    "will",
    "would",
}


def normalise(text: str | None) -> str:
    return _CONTROL_RE.sub(" ", unicodedata.normalize("NFKC", text or "")).lower()


def search_text(title: str, body: str) -> str:
    """The lower-cased text search matches (title first, then the body)."""
    return normalise(f"{title}\n{body}")


def terms(text: str | None) -> set[str]:
    """Comparable terms: every 2-character window of Chinese runs, and English/number words of 3+
    characters, minus stop terms."""
    out: set[str] = set()
    for run in _RUN_RE.findall(normalise(text)):
        if re.match(rf"[{_CJK}]", run):
            out.update(run[i : i + 2] for i in range(len(run) - 1))
        elif len(run) >= 3:
            out.add(run)
    return out - STOP_TERMS


@dataclass
class Segment:
    text: str
    url: str = ""


@dataclass
class Block:
    kind: str  # "p" | "h" | "ul" | "ol"
    lines: list[list[Segment]] = field(default_factory=list)


def _segments(line: str) -> list[Segment]:
    out, pos = [], 0
    for match in _URL_RE.finditer(line):
        if match.start() > pos:
            out.append(Segment(line[pos : match.start()]))
        out.append(Segment(match.group(0), match.group(0)))
        pos = match.end()
    if pos < len(line):
        out.append(Segment(line[pos:]))
    return out


def blocks(body: str | None) -> list[Block]:
    """The body as paragraphs, headings and lists."""
    text = _CONTROL_RE.sub("", (body or "").replace("\r\n", "\n").replace("\r", "\n"))
    out: list[Block] = []
    for chunk in re.split(r"\n\s*\n", text):
        lines = [ln.rstrip() for ln in chunk.split("\n") if ln.strip()]
        current: Block | None = None
        for line in lines:
            stripped = line.strip()
            if stripped.startswith("#"):
                heading = stripped.lstrip("#").strip()
                if heading:
                    out.append(Block("h", [_segments(heading)]))
                current = None
                continue
            if _ITEM_RE.match(line):
                kind = "ol" if re.match(r"^\s*\d", line) else "ul"
                if current is None or current.kind != kind:
                    current = Block(kind)
                    out.append(current)
                current.lines.append(_segments(_ITEM_RE.sub("", line, count=1)))
                continue
            if current is None or current.kind != "p":
                current = Block("p")
                out.append(current)
            current.lines.append(_segments(stripped))
    return out


def excerpt(body: str | None, length: int = 140) -> str:
    text = " ".join(_CONTROL_RE.sub(" ", body or "").replace("#", " ").split())
    return text[:length] + ("…" if len(text) > length else "")
