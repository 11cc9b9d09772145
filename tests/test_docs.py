"""The docs the code cites exist: every `NAME.md` a module, test or page names is a file of the
repository, and every section it names after it (`docs/protocol.md, "A voice turn"`) is a
heading of that file."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CITING = ("voice_lab", "tests", "e2e", "bench", "static", "templates")
SOURCES = ("*.py", "*.js", "*.html", "*.css", "*.sql")
# A file name, then optionally a comma and a quoted section name (which may wrap a line).
CITATION = re.compile(r'([\w./-]+\.md)\b(?:,\s*"([^"]+)")?')
# Folders of code that is not the project's (gitignored): packages npm installs, bundles of them.
NOT_OURS = frozenset({"node_modules", "dist"})


def citations() -> list[tuple[str, str, str | None]]:
    """(citing file, cited file, cited section or None) for every citation in the code."""
    found = []
    for folder in CITING:
        for pattern in SOURCES:
            for path in sorted((ROOT / folder).rglob(pattern)):
                if NOT_OURS & set(path.relative_to(ROOT).parts):
                    continue
                # Lines joined, comment marks dropped, so a section name may wrap.
                text = re.sub(r"\n\s*(?:#|//|\*)?\s*", " ", path.read_text(encoding="utf-8"))
                for name, section in CITATION.findall(text):
                    found.append((str(path.relative_to(ROOT)), name, section or None))
    return found


def headings(path: Path) -> set[str]:
    """The headings of a Markdown file, without their marks."""
    return {m.group(1).strip() for m in re.finditer(r"^#+ (.+)$", path.read_text(), re.M)}


def test_the_code_cites_docs_that_exist():
    cited = [c for c in citations() if c[0] != "tests/test_docs.py"]
    assert cited, "the code cites its docs: this test must see them"
    problems = []
    for source, name, section in cited:
        doc = ROOT / name
        if not doc.is_file():
            problems.append(f"{source} cites {name}, which is not a file of the repository")
        elif section and section not in headings(doc):
            problems.append(f'{source} cites "{section}", which is no heading of {name}')
    assert problems == []


def test_the_readme_links_both_docs():
    readme = (ROOT / "README.md").read_text()
    assert "(docs/architecture.md)" in readme and "(docs/protocol.md)" in readme


def test_the_readme_examples_are_the_ones_kept_running():
    """Each definition of e2e/test_readme_example.py is in the README word for word, so the
    examples a reader copies are the ones the e2e suite runs."""
    readme = (ROOT / "README.md").read_text()
    path = ROOT / "e2e" / "test_readme_example.py"
    source = path.read_text()
    kept = [
        ast.get_source_segment(source, node)
        for node in ast.parse(source).body
        if isinstance(node, ast.FunctionDef | ast.Assign)
        and not (isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "pytestmark")
    ]
    assert len(kept) >= 3, "the e2e file holds the README's examples: this test must see them"
    assert [k for k in kept if k not in readme] == []
