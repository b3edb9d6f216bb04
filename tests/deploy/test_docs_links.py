"""Links into docs/deploy.md, from the guide itself and from the files under deploy/ (comments,
the alerts' runbook_url), lead to one of its headings."""

from __future__ import annotations

import re
from pathlib import Path

from tests.deploy.support import RUNBOOK

LINKING = (".yaml", ".json", ".conf", ".sh", ".env")


def test_links_into_the_deployment_guide_resolve(root: Path, runbook_anchors: set[str]) -> None:
    links = {(RUNBOOK, a) for a in re.findall(r"\]\(#([^)]+)\)", (root / RUNBOOK).read_text())}
    for path in sorted((root / "deploy").rglob("*")):
        if path.is_file() and path.suffix in LINKING:
            found = re.findall(r"docs/deploy\.md#([\w-]+)", path.read_text())
            links |= {(str(path.relative_to(root)), a) for a in found}
    assert links, "no link into docs/deploy.md found: is the search still right?"
    broken = [f"{where}: #{a}" for where, a in sorted(links) if a not in runbook_anchors]
    assert not broken, f"not headings of {RUNBOOK}:\n" + "\n".join(broken)
