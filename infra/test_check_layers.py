"""check_layers on small crates written for each case: what it must refuse and what it must let pass."""

import tempfile
import unittest
from pathlib import Path

import check_layers


def crate(files: dict[str, str]) -> Path:
    root = Path(tempfile.mkdtemp()) / "src"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def found(files: dict[str, str]) -> list[tuple[str, str]]:
    return [(v.unit, v.uses) for v in check_layers.check(crate(files))]


class LayerOrder(unittest.TestCase):
    def test_a_module_may_use_those_listed_above_it(self):
        self.assertEqual(found({"lib.rs": "pub mod a;\npub mod b;\n", "a.rs": "", "b.rs": "use crate::a::X;\n"}), [])

    def test_a_module_may_not_use_one_listed_after_it(self):
        files = {"lib.rs": "pub mod a;\npub mod b;\n", "a.rs": "fn f() { crate::b::g() }\n", "b.rs": ""}
        self.assertEqual(found(files), [("a", "b")])

    def test_grouped_and_nested_paths_count(self):
        files = {
            "lib.rs": "pub mod a;\npub mod b;\npub mod c;\n",
            "a.rs": "use crate::{\n    b::{X, Y as Z},\n    c,\n};\n",
            "b.rs": "",
            "c.rs": "",
        }
        self.assertEqual(sorted(found(files)), [("a", "b"), ("a", "c")])

    def test_super_from_a_nested_file_resolves_to_its_module(self):
        files = {
            "lib.rs": "pub mod a;\npub mod b;\n",
            "a/mod.rs": "mod inner;\npub use inner::T;\n",
            "a/inner.rs": "use super::super::b::Z;\nuse super::T2;\n",
            "b.rs": "use super::a::T;\n",
        }
        self.assertEqual(found(files), [("a", "b")])

    def test_comments_strings_and_tests_are_not_dependencies(self):
        files = {
            "lib.rs": "pub mod a;\npub mod b;\n",
            "a.rs": (
                "//! See [`crate::b::X`].\n"
                "/* crate::b::Y */\n"
                'const S: &str = "crate::b::Z";\n'
                "const C: char = '\"';\n"
                "#[cfg(test)]\nmod tests {\n    use crate::b::X;\n    fn f() { let _ = \"}\"; }\n}\n"
                '#[cfg(test)]\n#[path = "a_tests.rs"]\nmod more_tests;\n'
            ),
            "a_tests.rs": "use crate::b::X;\n",
            "b.rs": "",
        }
        self.assertEqual(found(files), [])

    def test_adapters_follow_their_own_list(self):
        files = {
            "lib.rs": "pub mod a;\npub mod aws;\npub mod z;\n",
            "a.rs": "",
            "z.rs": "",
            "aws/mod.rs": "pub mod x;\npub mod y;\n",
            "aws/x.rs": "use super::y::T;\nuse crate::a::A;\n",
            "aws/y.rs": "use super::x::U;\nuse crate::z::Z;\n",
        }
        self.assertEqual(sorted(found(files)), [("aws::x", "aws::y"), ("aws::y", "z")])

    def test_each_adapter_group_follows_its_own_list_and_may_use_a_group_above(self):
        files = {
            "lib.rs": "pub mod a;\npub mod aws;\npub mod apple;\n",
            "a.rs": "",
            "aws/mod.rs": "pub mod q;\n",
            "aws/q.rs": "use crate::apple::s::S;\n",
            "apple/mod.rs": "pub mod r;\npub mod s;\npub use s::S;\n",
            "apple/r.rs": "use super::s::S;\nuse crate::aws::q::Q;\nuse crate::a::A;\n",
            "apple/s.rs": "use super::r::R;\nuse super::S2;\n",
        }
        self.assertEqual(sorted(found(files)), [("apple::r", "apple::s"), ("aws::q", "apple::s")])

    def test_this_repository_holds_its_order(self):
        self.assertEqual(check_layers.check(Path(__file__).resolve().parent.parent / "shared" / "src"), [])


if __name__ == "__main__":
    unittest.main()
