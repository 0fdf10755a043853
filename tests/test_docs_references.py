"""Every file the code and the docs cite exists: `docs/` pages, Markdown links and repository paths."""

from __future__ import annotations

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Not the project's own text: environments, caches, results and what git ignores.
SKIPPED_DIRS = {
    ".git",
    ".venv",
    "node_modules",
    "var",
    "__pycache__",
    ".mypy_cache",
    ".ruff_cache",
    "htmlcov",
}
TEXT_SUFFIXES = {".py", ".md", ".toml", ".yml", ".yaml", ".html", ".js", ".cfg", ".txt", ".example"}
# The starting design the hub was built to lives outside the repository; docs/ holds the contract now.
OUTSIDE_CONTRACT = "DESIGN" + ".md"

DOCS_PATH = re.compile(r"(?<![\w./-])docs/[\w./-]*")
MARKDOWN_LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)]*)?\)")
# A backticked path with a file name, such as `realtime/delivery.py`.
QUOTED_FILE = re.compile(r"`([\w.-]+(?:/[\w.-]+)+\.(?:py|md|js|html|json|toml|yml|sh))`")


def project_files() -> list[Path]:
    files = []
    for directory, subdirs, names in os.walk(ROOT):
        subdirs[:] = [d for d in subdirs if d not in SKIPPED_DIRS and not d.endswith(".egg-info")]
        here = Path(directory)
        if here.relative_to(ROOT).parts[:3] == ("bench", "results", "smoke"):
            continue
        files += [here / name for name in names if Path(name).suffix in TEXT_SUFFIXES or name == "Dockerfile"]
    return files


def cited_docs_paths(text: str) -> list[str]:
    return [match.rstrip(".") for match in DOCS_PATH.findall(text)]


def missing_citations(path: Path, root: Path = ROOT) -> list[str]:
    """What `path` cites that does not exist under `root`, as `file:line: citation`."""
    problems = []
    top_level = {entry.name for entry in root.iterdir()}
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        where = f"{path.relative_to(root)}:{number}"
        if OUTSIDE_CONTRACT in line:
            problems.append(f"{where}: {OUTSIDE_CONTRACT} (cite a page of docs/ instead)")
        for cited in cited_docs_paths(line):
            if not (root / cited).exists():
                problems.append(f"{where}: {cited}")
        if path.suffix != ".md":
            continue
        for target in MARKDOWN_LINK.findall(line):
            if (
                "://" not in target
                and not target.startswith("mailto:")
                and not (path.parent / target).exists()
            ):
                problems.append(f"{where}: link {target}")
        for quoted in QUOTED_FILE.findall(line):
            # Only paths from the repository's root (a file named inside its package's section is not).
            if quoted.split("/")[0] in top_level and not (root / quoted).exists():
                problems.append(f"{where}: {quoted}")
    return problems


def test_docs_references_every_cited_file_exists() -> None:
    files = project_files()
    assert {"directory-structure.md", "design.md", "settings.py"} <= {path.name for path in files}
    problems = [problem for path in files if path != Path(__file__) for problem in missing_citations(path)]
    assert problems == []


def test_docs_references_a_missing_page_link_or_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / "realtime").mkdir()
    (tmp_path / "realtime" / "fanout.py").touch()
    (tmp_path / "docs").mkdir()
    page = tmp_path / "docs" / "page.md"
    page.write_text(
        "See docs/page.md and docs/no-such-page.md, [this](page.md), [that](missing.md),\n"
        "`realtime/fanout.py`, `realtime/no_such_module.py` and `fanout.py` (named in its section).\n"
        f"The old {OUTSIDE_CONTRACT} section 5.\n",
        encoding="utf-8",
    )
    assert missing_citations(page, root=tmp_path) == [
        "docs/page.md:1: docs/no-such-page.md",
        "docs/page.md:1: link missing.md",
        "docs/page.md:2: realtime/no_such_module.py",
        f"docs/page.md:3: {OUTSIDE_CONTRACT} (cite a page of docs/ instead)",
    ]
