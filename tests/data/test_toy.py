"""data.toy, data.toy_lexicon and data.toy_splits: the built-in toy corpus, its hand-checked
translations, and its train/valid/test splits with held-out combinations."""

import pytest

from tinytransformer.data import (
    detokenize_en,
    detokenize_zh,
    held_out,
    lexicon_size,
    tokenize_en,
    tokenize_zh,
    toy_pairs,
    toy_split_examples,
    toy_splits,
)
from tinytransformer.data.toy import Clause, Phrase, render
from tinytransformer.data.toy_lexicon import (
    ADJECTIVES,
    NOUNS,
    OCCUPATIONS,
    OWNERS,
    PLACES,
    SUBJECTS,
    TIMES,
    VERBS,
)

SMALL = {"n_train": 3000, "n_valid": 200, "n_test": 200}


def C(subject, verb, noun, count=0, adj=None, owner=None, tense="present", mood="statement",
      time=None, place=None, time_first=False):
    """A clause from English keys: C("i", "read", "book", place="at home")."""
    when = next((w for w in TIMES[tense] if w.en == time), None) if time else None
    assert (time is None) == (when is None), f"no {tense} time phrase {time!r}"
    obj = Phrase(NOUNS[noun], ADJECTIVES[adj] if adj else None, count,
                 OWNERS[owner] if owner else None)
    return Clause(SUBJECTS[subject], VERBS[verb], obj, tense, mood, when,
                  PLACES[place] if place else None, time_first)


HAND_CHECKED = [  # (phenomenon, clause, english, chinese)
    ("place before verb", C("i", "read", "book", place="at home"),
     "i read books at home.", "我在家看书。"),
    ("time after subject", C("he", "drink", "tea", time="in the morning"),
     "he drinks tea in the morning.", "他早上喝茶。"),
    ("fronted time, same chinese", C("he", "drink", "tea", time="in the morning", time_first=True),
     "in the morning he drinks tea.", "他早上喝茶。"),
    ("time, place, sentence-final 了", C("we", "eat", "noodles", tense="past", time="yesterday",
                                         place="in the restaurant"),
     "we ate noodles in the restaurant yesterday.", "我们昨天在餐厅吃面条了。"),
    ("postposition 上", C("she", "watch", "movie", place="on the train", time="on weekends"),
     "she watches movies on the train on weekends.", "她周末在火车上看电影。"),
    ("measure word 只", C("i", "have", "cat", count=1), "i have a cat.", "我有一只猫。"),
    ("两 not 二, 了 after verb", C("she", "buy", "book", count=2, tense="past", time="yesterday"),
     "she bought two books yesterday.", "她昨天买了两本书。"),
    ("measure word 匹", C("tom", "feed", "horse", count=3, tense="future"),
     "tom will feed three horses.", "汤姆会喂三匹马。"),
    ("cups of -> 杯", C("my mother", "drink", "coffee", count=2, time="every morning"),
     "my mother drinks two cups of coffee every morning.", "我妈妈每天早上喝两杯咖啡。"),
    ("measure word 条", C("they", "see", "fish", count=10, tense="past", time="last week",
                         place="at the market"),
     "they saw ten fish at the market last week.", "他们上个星期在市场看见了十条鱼。"),
    ("colour takes 的", C("i", "like", "car", adj="red"), "i like red cars.", "我喜欢红色的车。"),
    ("short adjective, no 的", C("she", "want", "dog", count=1, adj="big"),
     "she wants a big dog.", "她想要一只大狗。"),
    ("an + 很贵的", C("john", "buy", "car", count=1, adj="expensive", tense="past",
                      time="last year"),
     "john bought an expensive car last year.", "约翰去年买了一辆很贵的车。"),
    ("owner 的", C("i", "feed", "cat", owner="my friend's", tense="past", time="yesterday"),
     "i fed my friend's cat yesterday.", "我昨天喂了我朋友的猫。"),
    ("subject with 的", C("tom's friend", "read", "magazine"),
     "tom's friend reads magazines.", "汤姆的朋友看杂志。"),
    ("time before 不", C("i", "drink", "coffee", mood="negation", time="in the evening"),
     "i do not drink coffee in the evening.", "我晚上不喝咖啡。"),
    ("没有, not 不有", C("mary", "have", "car", count=1, mood="negation"),
     "mary does not have a car.", "玛丽没有车。"),
    ("没 in the past, no 一", C("he", "buy", "book", count=1, tense="past", mood="negation",
                               time="yesterday"),
     "he did not buy a book yesterday.", "他昨天没买书。"),
    ("不会 before place", C("we", "play", "football", tense="future", mood="negation",
                           time="tomorrow", place="in the park"),
     "we will not play football in the park tomorrow.", "我们明天不会在公园踢足球。"),
    ("不 before place", C("she", "read", "book", mood="negation", place="at home"),
     "she does not read books at home.", "她不在家看书。"),
    ("吗", C("you", "like", "cat", mood="question"), "do you like cats?", "你喜欢猫吗？"),
    ("play the piano -> 弹", C("tom", "play", "piano", mood="question"),
     "does tom play the piano?", "汤姆弹钢琴吗？"),
    ("了吗", C("you", "drink", "tea", tense="past", mood="question", time="this morning"),
     "did you drink tea this morning?", "你今天早上喝茶了吗？"),
    ("会……吗", C("they", "buy", "ticket", count=2, tense="future", mood="question",
                  place="at the station"),
     "will they buy two tickets at the station?", "他们会在车站买两张票吗？"),
    ("play chess -> 下棋", C("the children", "play", "chess", tense="past", time="last sunday"),
     "the children played chess last sunday.", "孩子们上个星期天下棋了。"),
]


@pytest.mark.parametrize("name, clause, en, zh", HAND_CHECKED, ids=[r[0] for r in HAND_CHECKED])
def test_hand_checked_translations(name, clause, en, zh):
    assert render(clause) == (en, zh)


def test_reported_speech():
    clause = C("she", "like", "cat", mood="negation")
    assert render(clause, OCCUPATIONS["nurse"]) == ("the nurse said she does not like cats.",
                                                    "护士说她不喜欢猫。")


def test_generator_is_deterministic_by_seed():
    assert toy_pairs(300, seed=5) == toy_pairs(300, seed=5)
    assert toy_pairs(300, seed=5) != toy_pairs(300, seed=6)
    assert toy_splits(seed=1, **SMALL) == toy_splits(seed=1, **SMALL)
    assert toy_splits(seed=1, **SMALL)["test"] != toy_splits(seed=2, **SMALL)["test"]


def test_corpus_is_well_formed():
    pairs = toy_pairs(5000, seed=0)
    translations = {}
    for en, zh in pairs:
        assert translations.setdefault(en, zh) == zh, f"{en!r} has two translations"
        assert len(tokenize_en(en)) <= 12
        assert detokenize_en(tokenize_en(en)) == en and detokenize_zh(tokenize_zh(zh)) == zh
        assert " " not in zh and (en[-1], zh[-1]) in {(".", "。"), ("?", "？")}
        assert "二" not in zh  # 2 before a measure word is 两
        assert not (" not " in en and " every " in en)  # 每天不 would mean "never"


@pytest.mark.parametrize("marker", ["吗", "两", "的", "没", "不", "会", "了", "在", "说"])
def test_corpus_shows_every_phenomenon(marker):
    assert any(marker in zh for _, zh in toy_pairs(2000, seed=0))


def test_he_she_bias():
    bias = {"nurse": 0.0, "doctor": 1.0}
    pairs = toy_pairs(4000, seed=0, he_she_bias=bias)
    nurse = [en for en, _ in pairs if en.startswith("the nurse said")]
    doctor = [en for en, _ in pairs if en.startswith("the doctor said")]
    assert nurse and all(en.startswith("the nurse said she ") for en in nurse)
    assert doctor and all(en.startswith("the doctor said he ") for en in doctor)


@pytest.mark.parametrize("bias", [{"astronaut": 0.5}, {"nurse": 1.5}, {"nurse": -0.1}])
def test_he_she_bias_is_checked(bias):
    with pytest.raises(ValueError, match="he_she_bias"):
        toy_pairs(1, he_she_bias=bias)


def test_splits_are_disjoint_and_distinct():
    splits = toy_splits(seed=0, **SMALL)
    sizes = {name: len(pairs) for name, pairs in splits.items()}
    assert sizes == {"train": 3000, "valid": 200, "test": 200}
    english = {name: {en for en, _ in pairs} for name, pairs in splits.items()}
    assert all(len(english[name]) == sizes[name] for name in splits)  # no repeats
    assert not english["test"] & english["train"]
    assert not english["valid"] & english["train"]
    assert not english["valid"] & english["test"]


def test_held_out_combinations_never_reach_training():
    held = held_out(seed=0)
    assert held["valid"] and held["test"] and not held["valid"] & held["test"]
    examples = toy_split_examples(seed=0, **SMALL)
    train = set().union(*(e.combos for e in examples["train"]))
    assert not train & (held["valid"] | held["test"])
    assert all(e.combos & held["test"] for e in examples["test"])
    assert all(e.combos & held["valid"] and not e.combos & held["test"]
               for e in examples["valid"])
    # ... while each word of a held-out pair is trained with some other partner
    for kind, a, b in held["test"] | held["valid"]:
        assert any(k == kind and x == a for k, x, _ in train), (kind, a)
        assert any(k == kind and y == b for k, _, y in train), (kind, b)


def test_lexicon_size():
    size = lexicon_size()
    assert size["total"] == sum(v for k, v in size.items() if k != "total") > 150
