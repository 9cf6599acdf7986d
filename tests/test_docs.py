"""README is a front door (at most 250 lines) whose links, and the docs pages' links, lead to files that exist;
no page quotes a path of the machine it was written on."""
from __future__ import annotations

import re

from tests.conftest import REPO

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def links(text: str) -> list:
    """Markdown link targets outside code (fenced blocks and `inline` spans)."""
    prose = re.sub(r"`[^`\n]*`", "", re.sub(r"```.*?```", "", text, flags=re.S))
    return LINK.findall(prose)


def test_readme_is_a_front_door():
    readme = (REPO / "README.md").read_text()
    assert len(readme.splitlines()) <= 250
    linked = set(links(readme))
    assert {f"docs/{page.name}" for page in PAGES[1:]} <= linked  # every docs page is reachable from README


def test_links_lead_to_files_and_no_machine_paths():
    for page in PAGES:
        text = page.read_text()
        for target in links(text):
            if "://" in target:
                continue
            assert (page.parent / target).exists(), f"{page.name} links to {target}, which does not exist"
        assert not re.search(r"(?<![\w.])/(work|root|home|Users|tmp)/", text), f"{page.name} quotes a machine path"
