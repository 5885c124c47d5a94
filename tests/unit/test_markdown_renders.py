"""README.md and docs/*.md render as written: every fenced code block is closed where it was meant to be.

A fence line with text after it (```` ``` Return values… ````) is an opening fence, not a closing one,
so a renderer keeps going and shows the sections after it as one code block. markdown-it (the parser
of MyST, which builds the docs site) finds the blocks; a block that runs to the end of the file, or
holds a line that would have opened or closed a block of its own, is the mistake."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", ROOT / "CHANGELOG.md",
         *sorted(p for p in (ROOT / "docs").glob("**/*.md") if "_build" not in p.parts)]


def fence_problems(text: str) -> list[str]:
    """One line per fenced block that does not close where it was meant to: ``line N: why``."""
    lines = text.splitlines()
    problems = []
    for token in MarkdownIt("commonmark").parse(text):
        if token.type != "fence" or token.map is None:
            continue
        first, end = token.map  # the opening line and one past the last line of the block
        marker = re.escape(token.markup)  # ``` or ~~~ (or longer), as opened
        if end > len(lines) or not re.fullmatch(rf"\s*{marker}[{marker[-1]}]*\s*", lines[end - 1]):
            problems.append(f"line {first + 1}: this code block is never closed")
        for offset, line in enumerate(token.content.splitlines()):
            if re.match(rf"\s{{0,3}}{marker}", line):
                problems.append(f"line {first + 2 + offset}: a fence inside the code block opened at line "
                                f"{first + 1} ({line.strip()[:40]!r}): a closing fence takes no text after it")
    return problems


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_fence_is_closed(page: Path):
    if not page.exists():
        pytest.skip(f"{page.name} is not there")
    assert fence_problems(page.read_text()) == []


def test_the_check_finds_a_closing_fence_with_text_after_it_and_one_never_closed():
    broken = "# t\n\n```sh\nrun\n``` Then this paragraph\n\n## Next\n\n```\n"  # as README.md had it
    assert fence_problems(broken) == [
        "line 5: a fence inside the code block opened at line 3 ('``` Then this paragraph'): "
        "a closing fence takes no text after it"]
    assert fence_problems("text\n\n```python\nnever closed\n") == ["line 3: this code block is never closed"]
    assert fence_problems("````md\n```sh\nshown as text\n```\n````\n") == []  # a longer fence may hold ```
    assert fence_problems("~~~\n```\n~~~\n") == []  # and so may the other kind
