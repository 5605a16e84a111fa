"""data.tokenize: English words and clitics, Chinese characters, and the way back."""

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tinytransformer.data import detokenize_en, detokenize_zh, tokenize_en, tokenize_zh

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
