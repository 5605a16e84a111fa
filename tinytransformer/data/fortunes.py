"""Real text from the system's package manager: the data files of `fortune`, never shipped here.

    Debian's fortunes-zh (GPL-3.0+)   tang300   the 300 Tang poems (唐诗三百首), about 89 KB
                                      song100   100 Song lyrics (宋词), about 29 KB
                                      chinese   Chinese quotations, about 2 MB
    Debian's fortunes / fortunes-min  wisdom, people, science, literature, ...   English

A fortune file holds entries separated by lines that are a single "%". fortunes-zh writes each
poem's title and author in ANSI colour codes ("\\x1b[32m《静夜思》\\x1b[m"), which a terminal draws
in colour and a model should never see: `read_fortunes` strips them.

    path = resolve_data("tang300")      # /usr/share/games/fortunes/tang300, or a DataError that
                                        # names the package to install
    poems = read_fortunes(path)         # ["《感遇・其一》\\n作者：张九龄\\n兰叶春葳蕤，...", ...]
    verse_lengths(poems[0])             # [5, 5, 5, 5, 5, 5, 5, 5]
"""

from __future__ import annotations

import re
from pathlib import Path

from .tsv import DataError, read_text_lines

# Where distributions put fortune files: Debian/Ubuntu, Fedora/Arch, Homebrew (Intel, Apple).
FORTUNE_DIRS = (Path("/usr/share/games/fortunes"), Path("/usr/share/games/fortune"),
                Path("/usr/share/fortune"), Path("/usr/local/share/games/fortunes"),
                Path("/opt/homebrew/share/games/fortunes"))
SHORTCUTS = {  # name -> (Debian package, what it is)
    "tang300": ("fortunes-zh", "the 300 Tang poems"),
    "song100": ("fortunes-zh", "100 Song lyrics"),
    "chinese": ("fortunes-zh", "Chinese quotations"),
    "fortunes": ("fortunes-min", "English fortunes"),
    "literature": ("fortunes-min", "English quotations from literature"),
    "wisdom": ("fortunes", "English sayings"),
    "people": ("fortunes", "English quotations about people"),
    "science": ("fortunes", "English quotations about science"),
    "songs-poems": ("fortunes", "English songs and poems"),
}
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")  # "\x1b[32m", "\x1b[1;33m", "\x1b[m"
VERSE_END = re.compile(r"[，。？！；：、,.?!;:]")  # a verse (句) ends at a punctuation mark


def install_hint(name: str) -> str:
    package, what = SHORTCUTS[name]
    return (f"{name} ({what}) is a data file of Debian's {package} package, which is not "
            f"installed here: install it with `sudo apt-get install {package}` on "
            f"Debian/Ubuntu and run again, or pass the path of a UTF-8 text file")


def find_fortune_file(name: str) -> Path | None:
    """The installed fortune file `name`, or None."""
    for folder in FORTUNE_DIRS:
        if (folder / name).is_file():
            return folder / name
    return None


def resolve_data(data: str | Path) -> Path:
    """A path to a file as given, or a shortcut name (`tang300`) -> the installed file.

    A file of that name in the working folder wins over the shortcut."""
    path = Path(data)
    if path.exists() or str(data) not in SHORTCUTS:
        return path
    found = find_fortune_file(str(data))
    if found is None:
        raise DataError(install_hint(str(data)))
    return found


def is_fortune_text(lines: list[str]) -> bool:
    """True if some line is a lone "%", the separator of fortune files."""
    return any(line == "%" for line in lines)


def split_fortunes(lines: list[str]) -> list[str]:
    """Lines of a fortune file -> its entries, colour codes removed, blank edges trimmed."""
    entries, current = [], []
    for line in lines + ["%"]:
        if line == "%":
            text = "\n".join(current).strip("\n")
            if text.strip():
                entries.append(text)
            current = []
        else:
            current.append(strip_escapes(line).rstrip())
    return entries


def strip_escapes(line: str) -> str:
    """`line` without colour codes, also where one was written inside another
    ("\\x1b[;\\x1b[34;1mm" in the Chinese quotations): remove until none is left."""
    while (stripped := ANSI_ESCAPE.sub("", line)) != line:
        line = stripped
    return line.replace("\x1b", "")  # a lone escape character draws nothing either


def read_fortunes(path: str | Path) -> list[str]:
    """The entries of a fortune file (a poem, a quotation), without colour codes."""
    return split_fortunes(read_text_lines(resolve_data(path)))


def verse_lengths(poem: str) -> list[int]:
    """Characters in each verse of a poem: the runs of text between punctuation marks.

    Title lines (《...》) and author lines (作者：...) are skipped; a 五言 (five-character) poem
    gives [5, 5, ...], a 七言 one [7, 7, ...]."""
    out = []
    for line in poem.splitlines():
        if line.startswith("《") or line.startswith("作者："):
            continue
        out += [len(v.strip()) for v in VERSE_END.split(line) if v.strip()]
    return out
