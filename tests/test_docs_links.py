"""The documentation's links work: every relative link names a file that exists and every
`#anchor` a heading of its target (GitHub's slugs), and the README stays a newcomer's page.
Pure: reads Markdown files, fetches nothing."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted(
    [
        ROOT / "README.md",
        ROOT / "ARCHITECTURE.md",
        ROOT / "CHANGELOG.md",
        *ROOT.glob("docs/**/*.md"),
    ]
)
README_MAX_LINES = 200

FENCE = re.compile(r"^ {0,3}(```|~~~)")
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
# [text](target) or ![alt](target), with an optional "title"; the text may hold one level of
# brackets (`[a [b] c](d)`).
INLINE_LINK = re.compile(
    r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)"
)
REFERENCE_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$")
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # http:, https:, mailto:, …


def prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks, with inline code spans blanked out."""
    lines: list[str] = []
    fence: str | None = None
    for line in text.splitlines():
        opened = FENCE.match(line)
        if fence is not None:
            if opened and opened.group(1) == fence:
                fence = None
            lines.append("")
            continue
        if opened:
            fence = opened.group(1)
            lines.append("")
            continue
        lines.append(CODE_SPAN.sub(lambda m: " " * len(m.group(0)), line))
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lowercase, punctuation other than `-` and `_` dropped,
    spaces as `-`."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text only
    text = text.replace("`", "").lower()
    kept = [ch for ch in text if ch in "-_ " or unicodedata.category(ch)[0] in "LNM"]
    return "".join(kept).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading anchor of a Markdown file; repeated headings get `-1`, `-2`, … as on
    GitHub."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    fence: str | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        opened = FENCE.match(line)
        if fence is not None:
            if opened and opened.group(1) == fence:
                fence = None
            continue
        if opened:
            fence = opened.group(1)
            continue
        heading = HEADING.match(line)
        if heading is None:
            continue
        base = slug(heading.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(path: Path) -> list[tuple[int, str]]:
    """(line number, target) of every link in the prose of a Markdown file."""
    out: list[tuple[int, str]] = []
    for number, line in enumerate(prose_lines(path.read_text(encoding="utf-8")), start=1):
        out.extend((number, m.group(1)) for m in INLINE_LINK.finditer(line))
        definition = REFERENCE_DEF.match(line)
        if definition:
            out.append((number, definition.group(1)))
    return out


def broken_links(path: Path, root: Path = ROOT) -> list[str]:
    """One line per link of `path` that names a missing file or heading."""
    problems: list[str] = []
    where = path.relative_to(root)
    for number, target in links(path):
        if not target or EXTERNAL.match(target):
            continue
        file_part, _, anchor = target.partition("#")
        dest = path if not file_part else (path.parent / file_part).resolve()
        if not dest.exists():
            problems.append(f"{where}:{number}: {target}: no such file")
            continue
        if anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            problems.append(f"{where}:{number}: {target}: no heading #{anchor} in {dest.name}")
    return problems


def test_the_pages_checked_are_the_ones_a_reader_meets() -> None:
    names = {str(p.relative_to(ROOT)) for p in PAGES}
    assert {"README.md", "ARCHITECTURE.md", "CHANGELOG.md", "docs/README.md"} <= names
    assert "docs/schemas.md" in names


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_and_anchor_resolves(page: Path) -> None:
    assert broken_links(page) == []


def test_every_docs_page_is_in_the_index() -> None:
    index = ROOT / "docs" / "README.md"
    linked = {
        (index.parent / target.partition("#")[0]).resolve()
        for _, target in links(index)
        if not EXTERNAL.match(target)
    }
    pages = {p.resolve() for p in (ROOT / "docs").glob("*.md") if p.name != "README.md"}
    assert sorted(str(p.relative_to(ROOT)) for p in pages - linked) == []


def test_the_readme_starts_with_the_two_commands_and_stays_short() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    commands: list[str] = []
    fence: str | None = None
    for line in text.splitlines():
        opened = FENCE.match(line)
        if fence is not None:
            if opened and opened.group(1) == fence:
                fence = None
            elif line.strip():
                commands.append(line.split("#", 1)[0].strip())
        elif opened:
            fence = opened.group(1)
    assert commands[:2] == ["make demo", "make test"]
    assert len(text.splitlines()) < README_MAX_LINES


# The checker itself, on small pages: it must notice what it is there to notice.


def test_slugs_follow_githubs_rules() -> None:
    assert slug("Alert rules (`alert_rules` in the topology)") == (
        "alert-rules-alert_rules-in-the-topology"
    )
    assert slug("The history database (`--db`)") == "the-history-database---db"
    assert slug("`incident.actions`") == "incidentactions"
    assert slug("Delivery guarantee: at-least-once, duplicates dropped by `seq`") == (
        "delivery-guarantee-at-least-once-duplicates-dropped-by-seq"
    )


def test_broken_files_and_anchors_are_reported(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Other\n\n## Part two\n\n## Part two\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n\n"
        "[ok](other.md#part-two) [ok too](other.md#part-two-1) [self](#page)\n"
        "[gone](missing.md) [no heading](other.md#part-three) [no anchor here](#nowhere)\n"
        "[web](https://example.org/x.md#y) `[code](missing.md)`\n\n"
        "```\n[in a fence](missing.md)\n```\n",
        encoding="utf-8",
    )
    assert broken_links(page, tmp_path) == [
        "page.md:4: missing.md: no such file",
        "page.md:4: other.md#part-three: no heading #part-three in other.md",
        "page.md:4: #nowhere: no heading #nowhere in page.md",
    ]
