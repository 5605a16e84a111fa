"""Fortune files: entries split on '%' lines with their colour codes stripped, shortcuts that
find the installed file or say which package to install, verse lengths of a poem; and the
real files of Debian's fortunes-zh when they are installed."""

from collections import Counter

import pytest

from tinytransformer.data import DataError
from tinytransformer.data import fortunes as fortunes_module
from tinytransformer.data.fortunes import (
    find_fortune_file,
    read_fortunes,
    resolve_data,
    split_fortunes,
    verse_lengths,
)

POEM = ("\x1b[32m《静夜思》\x1b[m\n\x1b[33m作者：李白\x1b[m\n床前明月光，疑是地上霜。\n"
        "举头望明月，低头思故乡。\n%\n\x1b[1;32m《登鹳雀楼》\x1b[m\n\x1b[33m作者：王之涣\x1b[m\n"
        "白日依山尽，黄河入海流。\n欲穷千里目，更上一层楼。\n%\n")
INSTALL = "apt-get install fortunes-zh"


def test_entries_are_split_on_percent_lines_without_colour_codes(tmp_path):
    f = tmp_path / "poems"
    f.write_text(POEM, encoding="utf-8")
    entries = read_fortunes(f)
    assert entries == ["《静夜思》\n作者：李白\n床前明月光，疑是地上霜。\n举头望明月，低头思故乡。",
                       "《登鹳雀楼》\n作者：王之涣\n白日依山尽，黄河入海流。\n欲穷千里目，更上一层楼。"]


@pytest.mark.parametrize("lines, entries", [
    (["a", "%", "b"], ["a", "b"]),  # no '%' after the last entry
    (["%", "a", "", "%", "%", "  ", "%"], ["a"]),  # empty entries and blank edges go
    (["x\x1b[0;36my\x1b[;m z  ", "%"], ["xy z"]),  # any colour code; trailing spaces
    (["“a”\x1b[;\x1b[34;1mm b\x1b"], ["“a” b"]),  # a code inside a code; a lone escape
    (["one", "  two", "", "three"], ["one\n  two\n\nthree"]),  # inner layout is kept
])
def test_split_fortunes(lines, entries):
    assert split_fortunes(lines) == entries


def test_a_file_of_that_name_wins_over_the_shortcut(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tang300").write_text("mine", encoding="utf-8")
    assert resolve_data("tang300").read_text(encoding="utf-8") == "mine"
    assert resolve_data("not-a-shortcut.txt").name == "not-a-shortcut.txt"  # left to the reader


def test_a_missing_package_is_named_with_the_install_command(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(fortunes_module, "FORTUNE_DIRS", (tmp_path / "nowhere",))
    with pytest.raises(DataError, match="Debian's fortunes-zh package.*sudo apt-get install "
                                        "fortunes-zh.*or pass the path of a UTF-8 text file"):
        resolve_data("tang300")
    with pytest.raises(DataError, match="sudo apt-get install fortunes`"):
        resolve_data("wisdom")


def test_verse_lengths_skip_title_and_author():
    poem = split_fortunes(POEM.splitlines())[0]
    assert verse_lengths(poem) == [5, 5, 5, 5]
    assert verse_lengths("《题》\n作者：某\n一二三四五六七，一二三。\n\n甲乙？") == [7, 3, 2]


# -- the installed files -------------------------------------------------------------------------

def installed(name):
    path = find_fortune_file(name)
    if path is None:
        pytest.skip(f"{name} is not installed (sudo {INSTALL})")
    return path


def test_tang300_is_313_poems_with_title_author_and_verses():
    path = installed("tang300")
    raw = path.read_text(encoding="utf-8")
    poems = read_fortunes("tang300")
    assert len(poems) == sum(line == "%" for line in raw.splitlines())  # one '%' after each
    assert all("\x1b" not in p for p in poems)
    assert all(p.startswith("《") and p.splitlines()[1].startswith("作者：") for p in poems)
    lengths = Counter(n for p in poems for n in verse_lengths(p))
    assert (lengths[5] + lengths[7]) / sum(lengths.values()) > 0.9  # 五言 and 七言


def test_chinese_quotations_lose_their_colour_codes():
    installed("chinese")
    entries = read_fortunes("chinese")
    assert len(entries) > 5000 and not any("\x1b" in e for e in entries)
