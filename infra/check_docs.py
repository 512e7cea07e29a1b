#!/usr/bin/env python3
"""Keeps the docs true to the tree (run by `make lint`; standard library only).

Reads README.md and docs/*.md and fails, listing each problem as file:line, when
- a relative Markdown link `[text](target)` names a file or folder that does not
  exist (relative to the page), or a `#section` of a Markdown page that has no
  such heading;
- a repository path written in backticks does not exist (relative to the
  repository's root). A word in backticks is taken for a path when it contains
  `/` and either its last part has a file extension (`shared/src/import/run.rs`)
  or its first part is an existing top-level folder (`functions/admin/`).
  Not paths: URL paths (`/v1/devices`), URLs, anything with `$`, `=`, `:` or
  quotes, placeholders (`<...>`, `*`: `target/lambda/<binary>/`), and paths git
  ignores (generated: `.dev/stack.env`, `tests/browser/node_modules`);
- README.md is over 200 lines.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README_MAX_LINES = 200

FENCE = re.compile(r"^\s*(```|~~~)")
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
PATH_WORD = re.compile(r"^[A-Za-z0-9_.\-/]+$")
EXTENSION = re.compile(r"\.[A-Za-z0-9]+$")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def prose_lines(text: str):
    """(line number, line) outside fenced code blocks."""
    fenced = False
    for n, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            yield n, line


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to '-'."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text only
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for _, line in prose_lines(page.read_text(encoding="utf-8")):
        m = HEADING.match(line)
        if not m:
            continue
        s = slug(m.group(1))
        k = seen.get(s, 0)
        seen[s] = k + 1
        out.add(s if k == 0 else f"{s}-{k}")
    return out


def looks_like_repo_path(word: str) -> bool:
    if "/" not in word or word.startswith("/") or not PATH_WORD.match(word):
        return False
    parts = [p for p in word.split("/") if p]
    if not parts or any(p == ".." for p in parts):
        return False
    return bool(EXTENSION.search(parts[-1])) or (ROOT / parts[0]).is_dir()


def git_ignored(paths: list[str]) -> set[str]:
    if not paths:
        return set()
    try:
        out = subprocess.run(
            ["git", "check-ignore", "--no-index", "--stdin"],
            cwd=ROOT, input="\n".join(paths) + "\n", capture_output=True, text=True,
        ).stdout
    except OSError:
        return set()
    return {line.strip() for line in out.splitlines() if line.strip()}


def check() -> list[str]:
    problems: list[str] = []
    candidates: list[tuple[str, str]] = []  # (where, repo path) not found on disk
    for page in pages():
        if not page.exists():
            continue
        rel = page.relative_to(ROOT)
        text = page.read_text(encoding="utf-8")
        if page.name == "README.md" and page.parent == ROOT:
            n = len(text.splitlines())
            if n > README_MAX_LINES:
                problems.append(f"{rel}: {n} lines, over {README_MAX_LINES}")
        for n, line in prose_lines(text):
            where = f"{rel}:{n}"
            # Links, outside code spans.
            for target in LINK.findall(CODE_SPAN.sub("", line)):
                if re.match(r"^[a-z][a-z0-9+.\-]*:", target, re.I):
                    continue  # http:, https:, mailto:
                path, _, anchor = target.partition("#")
                dest = (page.parent / path).resolve() if path else page
                if path and not dest.exists():
                    problems.append(f"{where}: link to a missing file: {target}")
                elif anchor and dest.is_file() and dest.suffix == ".md" and anchor not in anchors(dest):
                    problems.append(f"{where}: link to a missing section: {target}")
            # Paths in backticks.
            for _, span in CODE_SPAN.findall(line):
                if "<" in span or "*" in span:
                    continue  # a placeholder
                for word in span.split():
                    word = word.strip("(),;")
                    if looks_like_repo_path(word) and not (ROOT / word).exists():
                        candidates.append((where, word))
    # Asked as a file and as a folder: `node_modules/` ignores folders only.
    words = {w.rstrip("/") for _, w in candidates}
    ignored = {w.rstrip("/") for w in git_ignored(sorted(words | {w + "/" for w in words}))}
    for where, word in candidates:
        if word.rstrip("/") not in ignored:
            problems.append(f"{where}: no such path: {word}")
    return problems


def main() -> int:
    problems = check()
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        print(f"check_docs: {len(problems)} problem(s) in README.md and docs/", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
