"""The reading path's table (chapters/README.md) against the chapters it describes.

Each chapter has one row: its words, the reading minutes at WORDS_PER_MINUTE, its exercises and
the seconds its notebook took in CI mode. Words and exercises are counted here from the
chapters, so the table cannot drift: words may differ by TOLERANCE (a typo fix should not need a
new table), exercises not at all. The CI seconds are a measurement on one machine and are only
read. `python tests/test_reading_path.py` prints the rows as they should be now.
"""

import re
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext")

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "chapters" / "README.md"
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9]*.md"))
WORDS_PER_MINUTE = 150  # technical prose with formulas, read to be understood (README says so)
TOLERANCE = 0.10
HEADER = "| chapter | words | reading min | exercises | CI s |"
EXERCISE = re.compile(r"^(\*\*\d+\.\*\*|\d+\. )", re.M)  # "**1.** ..." or "1. ..."


def prose(md: Path) -> str:
    """The chapter's markdown cells, without its 中文 summary (an alternative to the chapter for
    readers of Chinese, not more to read)."""
    text = "\n".join(c.source for c in jupytext.read(md).cells if c.cell_type == "markdown")
    return re.sub(r"## 摘要\n.*?(?=\n#|\Z)", "", text, flags=re.S)


def count_words(text: str) -> int:
    """Whitespace-separated pieces that hold a Latin letter or a digit."""
    return sum(bool(re.search(r"[A-Za-z0-9]", w)) for w in text.split())


def count_exercises(text: str) -> int:
    """Numbered items of the `## Exercises` section of a chapter's text."""
    return len(EXERCISE.findall(text.partition("\n## Exercises")[2].split("\n## ")[0]))


def words(md: Path) -> int:
    return count_words(prose(md))


def exercises(md: Path) -> int:
    return count_exercises(md.read_text(encoding="utf-8"))


def minutes(n_words: int) -> int:
    return max(1, round(n_words / WORDS_PER_MINUTE))


def table() -> dict[str, list[str]]:
    """{chapter stem: the row's cells} of the table under HEADER."""
    lines = README.read_text(encoding="utf-8").splitlines()
    if HEADER not in lines:
        return {}
    start = lines.index(HEADER) + 2  # after the header and its |---| line
    rows = {}
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        stem = re.search(r"\]\((\d\d_\w+)\.md\)", cells[0])
        if stem:
            rows[stem.group(1)] = cells
    return rows


def row(md: Path, ci_seconds: str = "?") -> str:
    name = re.sub(r"^#\s*", "", next(line for line in md.read_text(encoding="utf-8").splitlines()
                                     if line.startswith("# ")))
    n = words(md)
    return (f"| [{name}]({md.name}) | {n:,} | {minutes(n)} | {exercises(md)} | {ci_seconds} |")


@pytest.mark.parametrize("md", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_table_row_matches_the_chapter(md):
    rows = table()
    assert md.stem in rows, f"chapters/README.md has no row for {md.stem}; add:\n{row(md)}"
    cells = rows[md.stem]
    stated_words, stated_minutes, stated_exercises = (int(c.replace(",", "")) for c in cells[1:4])
    right = row(md, cells[4])
    assert abs(stated_words - words(md)) <= TOLERANCE * words(md), (
        f"{md.stem}: the table says {stated_words:,} words, the chapter has {words(md):,}; "
        f"the row should read:\n{right}")
    assert stated_minutes == minutes(stated_words), (
        f"{md.stem}: {stated_words:,} words at {WORDS_PER_MINUTE} a minute are "
        f"{minutes(stated_words)} minutes, not {stated_minutes}")
    assert stated_exercises == exercises(md), (
        f"{md.stem}: the table says {stated_exercises} exercises, the chapter has "
        f"{exercises(md)}; the row should read:\n{right}")


def test_every_row_is_a_chapter():
    assert set(table()) <= {p.stem for p in CHAPTERS}


def test_counting_rules():
    text = ("# T\n\nSome words, 3 formulas $x^2$ and 中文 -- .\n\n## Exercises\n\n**1.** One.\n\n"
            "2. Two, **3** is not one.\n\n## Credits\n\n1. Not an exercise.")
    assert count_words(text) == 21  # not "#", "中文", "--", "."
    assert count_exercises(text) == 2


if __name__ == "__main__":
    stated = table()
    for md in CHAPTERS:
        print(row(md, stated.get(md.stem, [""] * 5)[4] or "?"))
