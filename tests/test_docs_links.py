"""The documents' relative links resolve: to a file or directory of the repository and, for
``file.md#anchor``, to a heading of that file (GitHub's anchors). External links are skipped."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOP_LEVEL = ("README.md", "ARCHITECTURE.md", "CONTRIBUTING.md", "SECURITY.md")
EXTERNAL = ("http://", "https://", "mailto:")

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1", re.DOTALL)
# [text](target) and ![alt](target); the text may hold one level of brackets.
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*(<[^>]*>|[^\s)]+)(?:\s+[^)]*)?\)")
REFERENCE = re.compile(r"^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)")
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
HTML_ANCHOR = re.compile(r"<a\s+(?:name|id)=\"([^\"]+)\"")


def documents() -> list[Path]:
    return [ROOT / name for name in TOP_LEVEL] + sorted((ROOT / "docs").glob("*.md"))


def prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks, with inline code (which may span the lines of a
    paragraph) removed."""
    lines, fence = [], ""
    for line in text.splitlines():
        opening = FENCE.match(line)
        if opening and (not fence or opening.group(1)[0] == fence[0]):
            fence = "" if fence else opening.group(1)
            lines.append("")
        elif not fence:
            lines.append(line)
    paragraphs = re.split(r"\n[ \t]*\n", "\n".join(lines))
    return "\n\n".join(INLINE_CODE.sub("", p) for p in paragraphs).splitlines()


def links(text: str) -> list[str]:
    found = []
    for line in prose_lines(text):
        found += [m.group(1) for m in INLINE_LINK.finditer(line)]
        reference = REFERENCE.match(line)
        if reference:
            found.append(reference.group(1))
    return [target.strip("<>") for target in found]


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: the text as rendered, lowercase, punctuation dropped,
    spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link counts as its text
    text = re.sub(r"<[^>]+>", "", text).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every heading's anchor (a repeated one gets -1, -2, ...) and every <a name/id>."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    for line in prose_lines(text):
        heading = HEADING.match(line)
        if heading:
            base = slug(heading.group(2))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
    found.update(HTML_ANCHOR.findall(text))
    return found


def broken_links(document: Path, root: Path = ROOT) -> list[str]:
    """What is wrong with each relative link of the document, one line per broken link."""
    problems = []
    for target in links(document.read_text(encoding="utf-8")):
        if target.lower().startswith(EXTERNAL):
            continue
        path_part, _, fragment = target.partition("#")
        resolved = (document.parent / path_part).resolve() if path_part else document
        if not resolved.is_relative_to(root.resolve()) or not resolved.exists():
            problems.append(f"{target}: no such file")
        elif fragment and resolved.suffix == ".md":
            if fragment.lower() not in anchors(resolved.read_text(encoding="utf-8")):
                problems.append(f"{target}: no heading #{fragment} in {resolved.name}")
    return problems


@pytest.mark.parametrize("document", documents(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(document: Path) -> None:
    assert document.exists(), f"{document.relative_to(ROOT)} is missing"
    broken = broken_links(document)
    assert not broken, f"broken links in {document.relative_to(ROOT)}:\n" + "\n".join(broken)


def test_every_manual_is_linked_from_the_readme() -> None:
    readme = ROOT / "README.md"
    linked = {
        (readme.parent / target.partition("#")[0]).resolve()
        for target in links(readme.read_text(encoding="utf-8"))
        if not target.lower().startswith(EXTERNAL)
    }
    manuals = set((ROOT / "docs").glob("*.md"))
    assert manuals, "docs/ holds no manual"
    unlinked = sorted(p.name for p in manuals - linked)
    assert not unlinked, f"docs/ files README.md does not link to: {unlinked}"


def test_github_anchors() -> None:
    assert slug("The `dl` command (for admins)") == "the-dl-command-for-admins"
    assert slug("Tables: seating and cases") == "tables-seating-and-cases"
    assert slug("Events, registrations and Timepad") == "events-registrations-and-timepad"
    assert slug("First steps on an empty database") == "first-steps-on-an-empty-database"
    assert slug("See [the layout](layout.md) of app_main") == "see-the-layout-of-app_main"
    assert anchors("# Setup\n## Setup\n```\n# not a heading\n```\n") == {"setup", "setup-1"}


def test_a_broken_link_or_anchor_is_reported(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "other.md").write_text("# Other\n\n## A section\n", encoding="utf-8")
    document = tmp_path / "README.md"
    document.write_text(
        "# Title\n\n"
        "[fine](docs/other.md), [fine too](docs/other.md#a-section), [here](#title),\n"
        "[outside](https://example.com/missing.md), [mail](mailto:someone@example.com),\n"
        "`[in code](missing.md)`, `code across\n[two lines](missing.md)`\n\n"
        "```\n[in a block](missing.md)\n```\n\n"
        "[gone](docs/gone.md), [no anchor](docs/other.md#no-such-section), [self](#nothing)\n"
        "[ref]: docs/also-gone.md\n",
        encoding="utf-8",
    )
    assert broken_links(document, root=tmp_path) == [
        "docs/gone.md: no such file",
        "docs/other.md#no-such-section: no heading #no-such-section in other.md",
        "#nothing: no heading #nothing in README.md",
        "docs/also-gone.md: no such file",
    ]
