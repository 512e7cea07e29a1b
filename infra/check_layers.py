"""Checks that the `shared` crate's modules are layers without cycles.

`shared/src/lib.rs` lists the crate's modules bottom up, and each adapter
group's `mod.rs` (`shared/src/aws/mod.rs`, `shared/src/apple/mod.rs`) lists
its adapters the same way. The rule: a module imports only modules listed
above it (for an adapter: the crate's modules listed above its group, and the
adapters of its group listed above it). A list that obeys it has no cycle,
and a reader can start at the top.

Only code that ships counts: test modules (`#[cfg(test)]`) may use the
in-memory adapters of `fakes`, which sit at the top. Comments and strings are
ignored, so a doc link to a module above is not a dependency.

    python3 infra/check_layers.py [CRATE_SRC]      (default: shared/src)

Exit 0 when the order holds; 1 with one line per offending reference.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

MOD_DECL = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", re.M)
# A module declared only for tests: `#[cfg(test)]`, maybe a `#[path]`, then `mod x;`.
TEST_MOD_DECL = re.compile(r'#\[cfg\(test\)\]\s*(?:#\[path\s*=\s*"([^"]+)"\]\s*)?(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;')
TEST_ITEM = re.compile(r"#\[cfg\(test\)\]\s*")
PATH_REF = re.compile(r"\b(crate|super|self)((?:\s*::\s*(?:\w+|\{))+)")


@dataclass(frozen=True)
class Violation:
    file: str
    unit: str
    uses: str
    why: str

    def __str__(self) -> str:
        return f"{self.file}: `{self.unit}` uses `{self.uses}`, {self.why}"


def strip_comments_and_strings(src: str) -> str:
    """Blanks comments, string and char literals, keeping line breaks (so line numbers hold)."""
    out, i, n = [], 0, len(src)
    while i < n:
        c = src[i]
        if src.startswith("//", i):
            j = src.find("\n", i)
            i = n if j < 0 else j
        elif src.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if src.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif src.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append("\n" * src.count("\n", i, j))
            i = j
        elif c == "r" and re.match(r'r#*"', src[i:]) and (i == 0 or not (src[i - 1].isalnum() or src[i - 1] == "_")):
            hashes = re.match(r"r(#*)\"", src[i:]).group(1)
            end = src.find('"' + hashes, i + 2 + len(hashes))
            j = n if end < 0 else end + 1 + len(hashes)
            out.append('""' + "\n" * src.count("\n", i, j))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            out.append('""' + "\n" * src.count("\n", i, j))
            i = j + 1
        elif c == "'" and re.match(r"'(\\.|[^\\'])'", src[i:]) or (c == "'" and re.match(r"'\\u\{[0-9a-fA-F]+\}'", src[i:])):
            m = re.match(r"'(\\u\{[0-9a-fA-F]+\}|\\.|[^\\'])'", src[i:])
            out.append("' '")
            i += m.end()
        else:
            out.append(c)
            i += 1
    return "".join(out)


def drop_test_items(src: str) -> str:
    """Removes every item under `#[cfg(test)]`: a `mod tests { .. }` block, a `use`, a fn."""
    while True:
        m = TEST_ITEM.search(src)
        if not m:
            return src
        j = m.end()
        # Further attributes of the same item.
        while src.startswith("#[", j):
            j = src.index("]", j) + 1
            while j < len(src) and src[j].isspace():
                j += 1
        semi, brace = src.find(";", j), src.find("{", j)
        if brace < 0 or (0 <= semi < brace):
            end = semi + 1
        else:
            depth, k = 0, brace
            while k < len(src):
                if src[k] == "{":
                    depth += 1
                elif src[k] == "}":
                    depth -= 1
                    if depth == 0:
                        break
                k += 1
            end = k + 1
        src = src[: m.start()] + "\n" * src.count("\n", m.start(), end) + src[end:]


def declared_modules(path: Path) -> list[str]:
    """The modules a `lib.rs`/`mod.rs` declares, in order; test-only ones left out."""
    src = drop_test_items(strip_comments_and_strings(path.read_text()))
    return MOD_DECL.findall(src)


def module_files(src_root: Path) -> dict[Path, list[str]]:
    """Every file of the crate that ships, with its module path (lib.rs: [])."""
    files: dict[Path, list[str]] = {}

    def walk(file: Path, path: list[str]) -> None:
        files[file] = path
        text = file.read_text()
        test_only = {name for _, name in TEST_MOD_DECL.findall(strip_comments_and_strings(text))}
        folder = file.parent if file.name in ("lib.rs", "mod.rs") else file.with_suffix("")
        for name in MOD_DECL.findall(strip_comments_and_strings(text)):
            if name in test_only:
                continue
            for child in (folder / f"{name}.rs", folder / name / "mod.rs"):
                if child.exists():
                    walk(child, [*path, name])
                    break

    walk(src_root / "lib.rs", [])
    return files


def use_targets(tree: str) -> list[list[str]]:
    """The paths a `use` tree or a path expression names, from after its root keyword:
    `::a::{b, c::d}` gives [[a, b], [a, c, d]]."""
    tree = re.sub(r"\s+", "", re.sub(r"\s+as\s+\w+", "", tree)).lstrip(":")
    paths: list[list[str]] = []

    def expand(prefix: list[str], text: str) -> None:
        if not text:
            paths.append(prefix)
            return
        if text.startswith("{"):
            depth, part, parts = 0, "", []
            for ch in text[1:]:
                if ch == "{":
                    depth += 1
                elif ch == "}":
                    if depth == 0:
                        break
                    depth -= 1
                if ch == "," and depth == 0:
                    parts.append(part)
                    part = ""
                else:
                    part += ch
            parts.append(part)
            for p in parts:
                if p:
                    expand(prefix, p)
            return
        head, _, rest = text.partition("::")
        if head in ("*", "self"):
            paths.append(prefix)
            return
        expand([*prefix, head], rest)

    expand([], tree)
    return paths


def full_use_tree(src: str, start: int) -> str:
    """The text of a path from `start` to its end, braces included."""
    depth, j = 0, start
    while j < len(src):
        ch = src[j]
        if ch == "{":
            depth += 1
        elif ch == "}":
            if depth == 0:
                break
            depth -= 1
        elif depth == 0 and not (ch.isalnum() or ch in "_:" or ch.isspace()):
            break
        elif depth == 0 and ch.isspace() and not re.match(r"\s*::", src[j:]):
            prev = src[start:j].rstrip()
            if not prev.endswith("::"):
                break
        j += 1
    return src[start:j]


def references(src: str, here: list[str]) -> list[list[str]]:
    """Absolute module paths (from the crate root) that this file's code names."""
    out = []
    for m in PATH_REF.finditer(src):
        root = m.group(1)
        tree = full_use_tree(src, m.start(2))
        for path in use_targets(tree):
            if root == "crate":
                out.append(path)
            else:
                base = list(here)
                rest = path
                if root == "super":
                    base = base[:-1]
                    while rest and rest[0] == "super":
                        base, rest = base[:-1], rest[1:]
                out.append(base + rest)
    return out


# Top-level modules whose own modules are layers too, listed in the group's mod.rs.
ADAPTER_GROUPS = ("aws", "apple")


def unit_of(path: list[str]) -> str | None:
    """The layer unit a module path falls in: a top-level module, or `<group>::<adapter>`."""
    if not path:
        return None
    if path[0] in ADAPTER_GROUPS and len(path) > 1:
        return f"{path[0]}::{path[1]}"
    return path[0]


def check(src_root: Path) -> list[Violation]:
    top = declared_modules(src_root / "lib.rs")
    rank = {name: i for i, name in enumerate(top)}
    group_rank = {}
    for group in ADAPTER_GROUPS:
        group_mod = src_root / group / "mod.rs"
        adapters = declared_modules(group_mod) if group_mod.exists() else []
        group_rank.update({f"{group}::{name}": i for i, name in enumerate(adapters)})
    violations = []
    for file, path in sorted(module_files(src_root).items()):
        unit = unit_of(path)
        if unit is None or unit in ADAPTER_GROUPS:
            continue
        rel = str(file.relative_to(src_root.parent))
        src = drop_test_items(strip_comments_and_strings(file.read_text()))
        seen = set()
        for ref in references(src, path):
            used = unit_of(ref)
            if used is None or used == unit or used in seen:
                continue
            if used not in rank and used not in group_rank:
                continue  # a name from another crate or a local item, not a module of ours
            seen.add(used)
            mine_top = unit.split("::")[0]
            used_top = used.split("::")[0]
            if mine_top != used_top:
                if rank[used_top] > rank[mine_top]:
                    violations.append(Violation(rel, unit, used, "listed after it in lib.rs (a layer above)"))
            elif used in ADAPTER_GROUPS:
                continue
            elif "::" in unit and group_rank.get(used, -1) > group_rank.get(unit, -1):
                violations.append(
                    Violation(rel, unit, used, f"listed after it in {mine_top}/mod.rs (a layer above)")
                )
    return violations


def main(argv: list[str]) -> int:
    src_root = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent.parent / "shared" / "src"
    violations = check(src_root)
    for v in violations:
        print(v)
    if violations:
        print(
            f"{len(violations)} reference(s) against the layer order. A module may use only those "
            "listed above it in lib.rs (its group's mod.rs for adapters): move the item down a layer, "
            "or the module up.",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
