"""Dictionary (silver) alignments from glosses, and heads scored against them: hand-made
glosses, sentences and attention maps, with the AER and shares worked out by hand."""

import numpy as np
import pytest

from tinytransformer.data.alignments import gloss_words, head_scores, hsk_links, silver_links, stem
from tinytransformer.data.languages import DEFAULT_SIDES, Side


@pytest.mark.parametrize("gloss, words", [
    ("to like; to be fond of", {"lik", "fond"}),
    ("to imitate; to copy", {"imitat", "copy"}),
    ("surname Bai", set()),
    ("see 延長縣|延长县[Yan2 chang2 Xian4]", set()),
    ("(completed action marker); (modal particle indicating change of state)", set()),
    ("child", {"child"}),
    ("hour; CL:個|个[ge4]", {"hour"}),
])
def test_a_gloss_gives_its_content_words(gloss, words):
    assert gloss_words(gloss) == words


def test_the_stem_is_crude_on_purpose():
    assert [stem(w) for w in ["Imitates", "imitated", "adults", "is", "bus", "quickly"]] == \
        ["imitat", "imitat", "adult", "is", "bus", "quick"]


WORDS = [("孩子", "child"), ("喜欢", "to like; to be fond of"), ("模仿", "to imitate; to copy"),
         ("大人", "adult; grownup")]


def test_links_join_each_character_of_a_word_to_its_translation():
    en = ["kids", "imitate", "adults", "."]
    # 孩0 子1 喜2 欢3 模4 仿5 大6 人7 。8
    assert silver_links("孩子喜欢模仿大人。", WORDS, en) == {(4, 1), (5, 1), (6, 2), (7, 2)}


def test_links_turn_with_the_direction():
    record = {"zh": "孩子喜欢模仿大人。", "en": "Kids imitate adults.", "words": WORDS}
    en_zh = hsk_links([record], DEFAULT_SIDES)[0]
    zh_en = hsk_links([record], (Side("zh", "chars", True), Side("en", "words")))[0]
    assert zh_en == {(j, i) for i, j in en_zh}
    with pytest.raises(ValueError, match="English words and Chinese characters"):
        hsk_links([record], (Side("en", "chars"), Side("zh", "chars")))


def test_head_scores_by_hand():
    # one sentence, T = 2 target tokens + <eos>, S = 4; links: row 0 -> {1}, row 1 -> {2, 3}
    links = [{(0, 1), (1, 2), (1, 3)}]
    perfect = np.array([[0, 1, 0, 0], [0, 0, .5, .5], [1, 0, 0, 0]], float)
    even = np.full((3, 4), 0.25)
    wrong = np.array([[.7, .3, 0, 0], [0, .2, .2, .6], [1, 0, 0, 0]], float)
    maps = [np.stack([perfect, even, wrong])[None]]  # [L=1, H=3, T+1, S]
    scores = head_scores(maps, links)
    # perfect: both rows hit: AER = 1 - 2*2 / (2 + 3) = 0.2 (G has 3 links, P has 2)
    # even: argmax is column 0 in both rows: no hit: AER 1; share (1/4 + 2/4) / 2
    # wrong: row 0 misses (column 0), row 1 hits (column 3): AER 1 - 2/5; share (.3 + .8) / 2
    np.testing.assert_allclose(scores["aer"], [[0.2, 1.0, 0.6]])
    np.testing.assert_allclose(scores["share"], [[1.0, 0.375, 0.55]])
    assert scores["even"] == pytest.approx(0.375) and scores["rows"] == 2
    with pytest.raises(ValueError, match="no target token has a link"):
        head_scores(maps, [set()])
