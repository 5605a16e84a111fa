"""tinytransformer.data: the toy corpus, tokenizers, vocabulary, TSV loading and batching."""

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tinytransformer.data import (
    BOS_ID,
    EOS_ID,
    PAD_ID,
    SAMPLE_TSV,
    UNK_ID,
    DataError,
    Vocab,
    detokenize_en,
    detokenize_zh,
    held_out,
    lexicon_size,
    load_tsv,
    make_batches,
    split_pairs,
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

TATOEBA = Path(__file__).resolve().parents[2] / "shared" / "data" / "tatoeba-cmn-eng.tsv"
SMALL = {"n_train": 3000, "n_valid": 200, "n_test": 200}


# ---- the toy corpus ---------------------------------------------------------------------------

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


# ---- tokenizers -------------------------------------------------------------------------------

EN_CASES = [
    ("I read books at home.", ["i", "read", "books", "at", "home", "."]),
    ("Do you like cats?", ["do", "you", "like", "cats", "?"]),
    ("I don't like Tom's cat.", ["i", "do", "n't", "like", "tom", "'s", "cat", "."]),
    ("It's 3:30, isn't it?", ["it", "'s", "3:30", ",", "is", "n't", "it", "?"]),
    ("I can't", ["i", "ca", "n't"]),
    ("e-mail at 7 o'clock", ["e-mail", "at", "7", "o'clock"]),
    ('He said "Hi" (twice)...', ["he", "said", '"', "hi", '"', "(", "twice", ")", ".", ".", "."]),
    ("I\u2019m  here\n", ["i", "'m", "here"]),
]
ZH_CASES = [
    ("我在家看书。", ["我", "在", "家", "看", "书", "。"]),
    ("你喜欢猫吗？", ["你", "喜", "欢", "猫", "吗", "？"]),
    ("他是一个 DJ 。", ["他", "是", "一", "个", "DJ", "。"]),
    ("现在是7:45，我30岁了。", ["现", "在", "是", "7:45", "，", "我", "30", "岁", "了", "。"]),
    ("Tom Jackson用MP3", ["Tom", "Jackson", "用", "MP3"]),
]


@pytest.mark.parametrize("text, tokens", EN_CASES)
def test_tokenize_en(text, tokens):
    assert tokenize_en(text) == tokens


@pytest.mark.parametrize("text, tokens", ZH_CASES)
def test_tokenize_zh(text, tokens):
    assert tokenize_zh(text) == tokens


@pytest.mark.parametrize("text", ["i don't like tom's cat.", "it's 3:30, isn't it?",
                                  'he said "hi" (twice)...', "price: $5, 50%!"])
def test_detokenize_en_restores_normalised_text(text):
    assert detokenize_en(tokenize_en(text)) == text


@pytest.mark.parametrize("text", ["我在家看书。", "他是一个DJ。", "Tom Jackson用MP3", "3 . 5"])
def test_detokenize_zh_restores_normalised_text(text):
    assert detokenize_zh(tokenize_zh(text)) == text


@given(st.text(alphabet=st.sampled_from(list("abntsdmlrevéZ019 .,:;!?'\"-()$%_\u2019")),
               max_size=30))
@example("0'd_")  # "_" is not a letter: "'d" may not be a contraction here
@example("a-b n't")  # "n't" joins "do", not "a-b"
def test_en_round_trip(text):
    tokens = tokenize_en(text)
    assert tokenize_en(detokenize_en(tokens)) == tokens


@given(st.text(alphabet=st.sampled_from(list("我是猫。？，aZ09 .,:'-_")), max_size=30))
@example("3 . 5")  # must not come back as "3.5"
def test_zh_round_trip(text):
    tokens = tokenize_zh(text)
    assert " " not in "".join(tokens)
    assert tokenize_zh(detokenize_zh(tokens)) == tokens


# ---- vocabulary -------------------------------------------------------------------------------

SENTENCES = [["i", "like", "cats"], ["i", "like", "tea"], ["you", "like", "tea"]]


def test_vocab_order_and_specials():
    vocab = Vocab.build(SENTENCES)
    assert vocab.itos == ["<pad>", "<unk>", "<bos>", "<eos>", "like", "i", "tea", "cats", "you"]
    assert (vocab.pad_id, vocab.unk_id, vocab.bos_id, vocab.eos_id) == (0, 1, 2, 3)
    assert len(vocab) == 9 and "tea" in vocab and "dog" not in vocab


@pytest.mark.parametrize("min_freq, max_size, expected", [
    (1, None, ["like", "i", "tea", "cats", "you"]),
    (2, None, ["like", "i", "tea"]),
    (1, 6, ["like", "i"]),
    (4, None, []),
])
def test_vocab_min_freq_and_max_size(min_freq, max_size, expected):
    assert Vocab.build(SENTENCES, min_freq=min_freq, max_size=max_size).itos[4:] == expected


def test_vocab_encode_decode():
    vocab = Vocab.build(SENTENCES)
    ids = vocab.encode(["i", "like", "dogs"], add_bos=True, add_eos=True)
    assert ids == [BOS_ID, 5, 4, UNK_ID, EOS_ID]
    assert vocab.decode(ids) == ["i", "like", "<unk>"]
    assert vocab.decode([*ids, PAD_ID], strip_specials=False) == [
        "<bos>", "i", "like", "<unk>", "<eos>", "<pad>"]
    assert vocab.decode(np.array(ids)) == ["i", "like", "<unk>"]
    with pytest.raises(ValueError, match="id 9"):
        vocab.decode([9])


@given(st.lists(st.lists(st.text(min_size=1, max_size=3), max_size=6), max_size=6))
def test_vocab_round_trips(sentences):
    vocab = Vocab.build(sentences)
    for sentence in sentences:
        if not any(t in ("<pad>", "<bos>", "<eos>", "<unk>") for t in sentence):
            assert vocab.decode(vocab.encode(sentence, add_bos=True, add_eos=True)) == sentence
    assert Vocab.from_json(json.loads(json.dumps(vocab.to_json()))) == vocab


@pytest.mark.parametrize("data", [{"tokens": ["a", "b"]}, {"tokens": [
    "<pad>", "<unk>", "<bos>", "<eos>", "a", "a"]}, {"itos": []}, ["<pad>"]])
def test_vocab_from_bad_json(data):
    with pytest.raises(ValueError, match="Vocab"):
        Vocab.from_json(data)


# ---- TSV files --------------------------------------------------------------------------------

def test_load_sample():
    pairs = load_tsv(SAMPLE_TSV)
    assert len(pairs) == 40 and pairs[0] == ("Hello.", "你好。")
    assert all(src and tgt and "\t" not in src + tgt for src, tgt in pairs)
    assert load_tsv(SAMPLE_TSV, src_col=1, tgt_col=0)[0] == ("你好。", "Hello.")
    short = load_tsv(SAMPLE_TSV, max_len=3)
    assert ("Hello.", "你好。") in short and len(short) < len(pairs)
    assert all(len(tokenize_en(en)) <= 3 for en, _ in short)


def test_load_tolerates_bom_crlf_blank_lines_and_duplicates(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_bytes("\ufeffHi.\t你好。\r\n\r\nRun!\t跑！\tCC0\r\nHi.\t你好。\n\n".encode())
    assert load_tsv(path) == [("Hi.", "你好。"), ("Run!", "跑！")]
    assert load_tsv(path, dedupe=False) == [("Hi.", "你好。"), ("Run!", "跑！"), ("Hi.", "你好。")]


MALFORMED = [  # (file contents, line of the error, what the message says)
    (b"Hi.\t\xe4\xbd\xa0\xe5\xa5\xbd\nRun!\n", 2, "expected 2 or 3 tab-separated columns, found 1"),
    (b"a\tb\n\nc\td\te\tf\n", 3, "found 4"),
    (b"a\tb\n\t\xe8\xb7\x91\n", 2, "column 1 is empty"),
    (b"a\t \tCC0\n", 1, "column 2 is empty"),
    (b"a\tb\nc\td\n\xff\tx\n", 3, "not valid UTF-8"),
    (b"\xef\xbb\xbfa\tb\xc3\n", 1, "not valid UTF-8"),
]


@pytest.mark.parametrize("content, line, message", MALFORMED)
def test_malformed_lines_are_named(tmp_path, content, line, message):
    path = tmp_path / "data.tsv"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message) as info:
        load_tsv(path)
    assert f"data.tsv:{line}:" in str(info.value)
    assert isinstance(info.value, ValueError)


PAIRS = [(f"sentence {i // 2}", f"句子{i}") for i in range(100)]  # two targets per source


@pytest.mark.parametrize("n_valid, n_test, sizes", [
    (10, 20, (70, 10, 20)),
    (0.1, 0.2, (70, 10, 20)),
    (0, 0, (100, 0, 0)),
])
def test_split_pairs(n_valid, n_test, sizes):
    parts = split_pairs(PAIRS, n_valid=n_valid, n_test=n_test, seed=3)
    assert tuple(len(parts[name]) for name in ("train", "valid", "test")) == sizes
    assert sorted(sum(parts.values(), [])) == sorted(PAIRS)  # a partition
    sources = {name: {src for src, _ in part} for name, part in parts.items()}
    assert not sources["train"] & sources["test"] and not sources["train"] & sources["valid"]
    assert parts == split_pairs(PAIRS, n_valid=n_valid, n_test=n_test, seed=3)
    assert parts["train"] == [p for p in PAIRS if p in parts["train"]]  # file order kept


def test_split_pairs_depends_on_seed_and_checks_sizes():
    assert split_pairs(PAIRS, 10, 10, seed=0) != split_pairs(PAIRS, 10, 10, seed=1)
    with pytest.raises(ValueError, match="exceeds"):
        split_pairs(PAIRS, 60, 60)
    with pytest.raises(ValueError, match="n_test"):
        split_pairs(PAIRS, 10, 1.5)


@pytest.mark.skipif(not TATOEBA.exists(), reason=f"Tatoeba corpus not found at {TATOEBA} "
                    "(CI clones the repository next to shared/)")
def test_load_tatoeba():
    pairs = load_tsv(TATOEBA)
    assert len(pairs) > 25_000 and len(set(pairs)) == len(pairs)
    assert pairs[0] == ("Hi.", "嗨。")
    short = load_tsv(TATOEBA, max_len=10)
    assert 20_000 < len(short) < len(pairs)
    assert all(len(tokenize_en(en)) <= 10 for en, _ in short)


# ---- batching ---------------------------------------------------------------------------------

def random_ids(n, seed=0):
    rng = np.random.default_rng(seed)
    src = [list(rng.integers(4, 50, size=rng.integers(0, 15))) for _ in range(n)]
    tgt = [list(rng.integers(4, 50, size=rng.integers(0, 20))) for _ in range(n)]
    return src, tgt


@pytest.mark.parametrize("sizing", [{"batch_size": 1}, {"batch_size": 16}, {"batch_size": 500},
                                    {"max_tokens": 64}, {"max_tokens": 5}])
@pytest.mark.parametrize("seed", [None, 0])
def test_batches_cover_each_pair_once_and_pad(sizing, seed):
    src, tgt = random_ids(300)
    rng = None if seed is None else np.random.default_rng(seed)
    batches = make_batches(src, tgt, rng=rng, pool=100, **sizing)
    seen = np.concatenate([b.index for b in batches])
    assert sorted(seen.tolist()) == list(range(300))
    for b in batches:
        check_padding(b, src, tgt)
        if "max_tokens" in sizing and len(b) > 1:
            assert len(b) * max(b.src.shape[1], b.tgt_in.shape[1]) <= sizing["max_tokens"]
        if "batch_size" in sizing:
            assert len(b) <= sizing["batch_size"]


def check_padding(b, src, tgt):
    """Row r of the batch is pair b.index[r]: its ids, then <pad> to the batch's width."""
    assert b.src.dtype == b.tgt_in.dtype == b.tgt_out.dtype == np.int64
    assert b.tgt_in.shape == b.tgt_out.shape and len(b.src) == len(b) > 0
    S, T = b.src.shape[1], b.tgt_in.shape[1]
    for row, i in enumerate(b.index):
        s, t = src[i], tgt[i]
        assert b.src[row].tolist() == s + [PAD_ID] * (S - len(s))
        assert b.tgt_in[row].tolist() == [BOS_ID, *t] + [PAD_ID] * (T - len(t) - 1)
        assert b.tgt_out[row].tolist() == [*t, EOS_ID] + [PAD_ID] * (T - len(t) - 1)
    assert b.n_src_tokens == sum(len(src[i]) for i in b.index)
    assert b.n_tgt_tokens == sum(len(tgt[i]) + 1 for i in b.index)


def test_batches_group_similar_lengths():
    src, tgt = random_ids(400)
    sorted_pad = sum(b.src.size for b in make_batches(src, tgt, batch_size=20, pool=400))
    rng = np.random.default_rng(0)
    shuffled = [rng.permutation(400)[i:i + 20] for i in range(0, 400, 20)]
    random_pad = sum(len(g) * max(1, max(len(src[i]) for i in g)) for g in shuffled)
    assert sorted_pad < 0.8 * random_pad


def test_batches_are_shuffled_deterministically():
    src, tgt = random_ids(200)

    def order(seed):
        rng = np.random.default_rng(seed)
        return np.concatenate([b.index for b in make_batches(src, tgt, batch_size=8, rng=rng)])

    assert order(1).tolist() == order(1).tolist()
    assert order(1).tolist() != order(2).tolist()


@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)), max_size=40),
       st.integers(1, 30))
def test_batches_any_lengths(lengths, max_tokens):
    src = [[5] * a for a, _ in lengths]
    tgt = [[6] * b for _, b in lengths]
    batches = make_batches(src, tgt, max_tokens=max_tokens, rng=np.random.default_rng(0), pool=7)
    assert sorted(i for b in batches for i in b.index.tolist()) == list(range(len(lengths)))
    assert sum(b.n_tgt_tokens for b in batches) == sum(b + 1 for _, b in lengths)


@pytest.mark.parametrize("kwargs, message", [
    ({}, "exactly one"),
    ({"batch_size": 4, "max_tokens": 100}, "exactly one"),
    ({"batch_size": 0}, "batch_size=0"),
])
def test_batch_arguments_are_checked(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_batches([[4]], [[5]], **kwargs)
    with pytest.raises(ValueError, match="1 sources but 2 targets"):
        make_batches([[4]], [[5], [6]], batch_size=2)
