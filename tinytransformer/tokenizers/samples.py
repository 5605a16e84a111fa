"""Hard strings for a tokenizer, generated deterministically: what the tests compare on.

    sample_texts(2000, seed=0) -> ["I'm sure they'll say 42.", "我喜欢猫，也喜欢狗。", ...]

Each kind aims at a branch of the pre-tokenisation patterns: contractions ('s 't 're, in any
case), letters vs numbers (\\p{L}, \\p{N}: Chinese, Arabic-Indic digits, ², Ⅻ), runs of spaces,
tabs and newlines (at the end of the text too: cl100k's \\s++$), code indentation, emoji with
zero-width joiners and skin tones, combining marks, and random assigned code points.
"""

from __future__ import annotations

import random
import unicodedata

WORDS = ("the a cat dog I you we they it language model token byte merge New York Paris "
         "running quickly HTTP JSON naïve café résumé Zürich über straße").split()
CONTRACTIONS = ("I'm you're we've they'll he'd don't can't IT'S WE'RE She'S O'Neil "
                "rock'n'roll 's 't 're 'll ''' it’s").split()
PUNCT = list(".,;:!?…—–-()[]{}\"'«»“”‘’/\\@#$%^&*_+=|<>~`") + ["...", "!!!", "?!", "--", "=>"]
CHINESE = "我你他她们的是不了在人有这中大为上个国和也子时道出要就以说会可下而过天去能对小多"
ZH_PUNCT = "，。！？、；：「」『』（）《》"
SCRIPTS = ["Привет, мир", "Γειά σου κόσμε", "مرحبا بالعالم", "नमस्ते दुनिया", "こんにちは世界",
           "안녕하세요 세계", "สวัสดีชาวโลก", "Tiếng Việt có dấu", "e\u0301 n\u0303 a\u030a",
           "שלום עולם", "ሰላም ልዑል"]
NUMBERS = ["0", "7", "42", "3.14159", "1,000,000", "12345678901234567890", "２０２４年",
           "٣٤٥٦", "१२३", "x²+y³", "½ ¾", "Ⅻ", "〇", "1e-9", "0xFF", "v2.0.1", "10:45"]
EMOJI = ["😀", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇯🇵🇫🇷", "1️⃣", "❤️", "🧑🏿‍💻", "☃", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢"]
SPACES = [" ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", " \n ", "\t\t", "\u00a0", "\u3000",
          "\u2009", "\u200b", "\n    ", "    \n"]
CODE = ["def f(x):\n    return x * 2\n", "for (int i = 0; i < n; ++i) {\n\tsum += a[i];\n}",
        "if x:\n        y = {'a': 1}\n    else:\n\tpass", "  # comment  \n", "x=1;y=2",
        "<div class=\"a\">&amp;</div>", "SELECT * FROM t WHERE id = 7;"]


def _english(rng: random.Random) -> str:
    words = [rng.choice(WORDS + CONTRACTIONS) for _ in range(rng.randint(1, 12))]
    text = " ".join(w.upper() if rng.random() < 0.1 else w for w in words)
    return text + rng.choice(["", ".", "!", "?", "...", " ", "\n"])


def _chinese(rng: random.Random) -> str:
    out = []
    for _ in range(rng.randint(1, 20)):
        r = rng.random()
        out.append(rng.choice(ZH_PUNCT) if r < 0.15 else rng.choice(NUMBERS) if r < 0.2
                   else rng.choice(WORDS) if r < 0.25 else rng.choice(CHINESE))
    return "".join(out)


def _random_unicode(rng: random.Random) -> str:
    """Assigned code points only (Python's unicodedata, which `regex` agrees with on them),
    no surrogates; some from the BMP, some astral."""
    out, length = [], rng.randint(1, 16)
    while len(out) < length:
        c = chr(rng.randint(0, 0x2FFFF) if rng.random() < 0.7 else rng.randint(0, 0x10FFFF))
        if unicodedata.category(c) not in ("Cn", "Cs"):
            out.append(c)
    return "".join(out)


def _pick(pool):
    return lambda rng: rng.choice(pool)


def _mixed(rng: random.Random) -> str:
    return "".join(rng.choice(KINDS)(rng) for _ in range(rng.randint(2, 4)))


def _runs(rng: random.Random) -> str:
    return "".join(rng.choice(SPACES + PUNCT + ["a", "1", "'s"]) for _ in range(rng.randint(1, 9)))


KINDS = [_english, _chinese, _random_unicode, _runs, _pick(SCRIPTS), _pick(NUMBERS),
         _pick(EMOJI), _pick(SPACES), _pick(CODE), _pick(CONTRACTIONS), _pick(PUNCT)]


def sample_texts(n: int = 2000, seed: int = 0) -> list[str]:
    """`n` distinct strings: every listed case alone, then single kinds and mixtures of two to
    four kinds."""
    rng = random.Random(seed)
    fixed = SCRIPTS + NUMBERS + EMOJI + SPACES + CODE + CONTRACTIONS + PUNCT + ["", "a"]
    out = dict.fromkeys(fixed)  # an ordered set
    while len(out) < n:
        out[rng.choice(KINDS + [_mixed] * 4)(rng)] = None
    return list(out)[:n]


def random_utf8(n: int, seed: int = 0) -> list[str]:
    """The valid UTF-8 in random byte strings (invalid bytes dropped): byte sequences no word
    list would hold, such as controls, DEL, C1 controls and characters of rare scripts."""
    rng, out = random.Random(seed), []
    while len(out) < n:
        text = rng.randbytes(rng.randint(1, 24)).decode("utf-8", errors="ignore")
        if text:
            out.append(text)
    return out
