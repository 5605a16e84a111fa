"""Any language pair, either direction: each side cut and joined as its language is written,
BLEU tokenised for the target language, the source column found, the sides kept in checkpoints.

The references are the sentences themselves (written by hand below) and sacrebleu."""

from pathlib import Path

import pytest
import sacrebleu

from tinytransformer import cli
from tinytransformer.data import SAMPLE_TSV, DataError, tokenize_en, tokenize_zh
from tinytransformer.data.languages import Side, bleu_tokenize, columns_swapped
from tinytransformer.train import TrainConfig, load_corpus
from tinytransformer.translate import bleu, chrf, load_translator

from .test_cli import TINY

TATOEBA = Path(__file__).resolve().parents[2] / "shared" / "data" / "tatoeba-cmn-eng.tsv"

# (language, sentence as written): each must come back exactly from its own tokens
WRITTEN = [
    ("fr", "Où est la gare ?"),
    ("fr", "Je n'ai pas d'argent, mais j'ai le temps !"),
    ("fr", "« Bonjour », dit-il à l'élève."),
    ("fr", "Ça coûte 3,50 euros : c'est trop cher."),
    ("de", "Ich weiß nicht, wo der Bahnhof ist."),
    ("de", "Er sagte „Guten Morgen“ zu mir."),
    ("de", "Die Straße ist schön."),
    ("es", "¿Dónde está la estación?"),
    ("es", "¡Qué bueno es el café de Mañana!"),
    ("en", "I don't know what Tom's cat eats."),
    ("zh", "我不知道该说什么。"),
    ("zh", "汤姆用iPhone看了3.5小时的视频。"),
]


@pytest.mark.parametrize("lang, text", WRITTEN)
def test_a_target_side_gives_its_text_back_with_spaces_case_and_accents(lang, text):
    side = Side(lang, "chars" if lang == "zh" else "words")
    assert side.detokenize(side.tokenize(text)) == text


@pytest.mark.parametrize("lang, text", WRITTEN)
def test_bpe_and_characters_give_any_text_back(lang, text):
    bpe = Side.learn(lang, "bpe", False, [t for _, t in WRITTEN] * 3, merges=60)
    assert bpe.detokenize(bpe.tokenize(text + " (new)")) == text + " (new)"
    again = Side.from_json(bpe.to_json())
    assert again.tokenize(text) == bpe.tokenize(text)
    if lang != "zh":
        chars = Side(lang, "chars")
        assert chars.detokenize(chars.tokenize(text)) == text


def test_the_first_direction_cuts_as_before():
    """en -> zh: the source is tokenize_en's words, the target tokenize_zh's characters."""
    corpus = load_corpus(TrainConfig())
    src, tgt = corpus.token_ids("valid")
    pairs = corpus.splits["valid"]
    assert src == [corpus.src_vocab.encode(tokenize_en(en)) for en, _ in pairs]
    assert tgt == [corpus.tgt_vocab.encode(tokenize_zh(zh)) for _, zh in pairs]


def test_words_are_not_a_way_to_cut_chinese():
    with pytest.raises(ValueError, match="without spaces"):
        Side("zh", "words")
    with pytest.raises(DataError, match="English with Chinese"):
        load_corpus(TrainConfig(src_lang="fr"))


@pytest.mark.parametrize("lang, tokenize", [("zh", "zh"), ("fr", "13a"), ("de", "13a"),
                                            ("en", "13a")])
def test_bleu_is_tokenised_for_the_target_language(lang, tokenize):
    hyps = ["Où est la gare?", "Je n'ai pas le temps.", "我不知道。"]
    refs = ["Où est la gare ?", "Je n'ai pas d'argent.", "我不知道该说什么。"]
    assert bleu_tokenize(lang) == tokenize
    assert bleu(hyps, refs, lang) == sacrebleu.corpus_bleu(hyps, [refs], tokenize=tokenize).score
    assert chrf(hyps, refs) == sacrebleu.corpus_chrf(hyps, [refs]).score


ENGLISH_FRENCH = [
    ("Where is the station?", "Où est la gare ?"),
    ("I don't have any money.", "Je n'ai pas d'argent."),
    ("Where is the cat?", "Où est le chat ?"),
    ("The cat is black.", "Le chat est noir."),
    ("I have a cat.", "J'ai un chat."),
    ("I have a dog.", "J'ai un chien."),
    ("The dog is black.", "Le chien est noir."),
    ("Where is the dog?", "Où est le chien ?"),
    ("It's too expensive.", "C'est trop cher."),
    ("I have time.", "J'ai le temps."),
    ("The station is far.", "La gare est loin."),
    ("Is the station far?", "La gare est-elle loin ?"),
]


@pytest.fixture
def french_tsv(tmp_path):
    path = tmp_path / "fra.tsv"
    path.write_text("".join(f"{en}\t{fr}\tCC-BY 2.0 (France)\n" for en, fr in ENGLISH_FRENCH),
                    encoding="utf-8")
    return str(path)


def test_every_target_sentence_comes_back_as_written(french_tsv):
    """The bug of the issue: "Où est le chat ?" came back as "Oùest le chat?"."""
    corpus = load_corpus(TrainConfig(data=french_tsv, src_lang="en", tgt_lang="fr",
                                     valid_size=1, test_size=1))
    assert corpus.source_column == 1 and corpus.sides[1].lang == "fr"
    _, ids = corpus.token_ids("train")
    for (_, fr), row in zip(corpus.splits["train"], ids):
        assert corpus.sides[1].detokenize(corpus.tgt_vocab.decode(row)) == fr


def test_the_languages_find_the_source_column_and_both_directions_hold_out_the_same(french_tsv):
    sizes = dict(valid_size=2, test_size=2)
    en_fr = load_corpus(TrainConfig(data=french_tsv, src_lang="en", tgt_lang="fr", **sizes))
    fr_en = load_corpus(TrainConfig(data=french_tsv, src_lang="fr", tgt_lang="en", **sizes))
    assert fr_en.source_column == 2
    assert fr_en.splits["test"] == [(fr, en) for en, fr in en_fr.splits["test"]]
    assert fr_en.splits["train"][0][0].startswith(("Où", "Je", "Le", "J'", "C'", "La"))
    pairs = ENGLISH_FRENCH
    assert not columns_swapped(pairs, "en", "fr") and columns_swapped(pairs, "fr", "en")


def test_reverse_trains_zh_to_en_and_the_checkpoint_remembers(tmp_path, capsys):
    run = tmp_path / "run"
    assert cli.main(["train", "--data", str(SAMPLE_TSV), "--reverse", "--run", str(run),
                     "--steps", "2", "--eval-every", "2", *TINY]) == 0
    out = capsys.readouterr().out
    assert "zh chars, lower-cased -> en words, source = column 2" in out
    model, vocabs, meta = load_translator(run / "best")
    assert [s.lang for s in vocabs.sides] == ["zh", "en"]
    assert "你" in vocabs[0] and "hello" in vocabs[1].stoi | {"hello": 0}
    assert cli.main(["evaluate", "--checkpoint", str(run / "best")]) == 0
    assert "(zh -> en, sacrebleu tokenize=13a)" in capsys.readouterr().out
    assert cli.main(["translate", "--checkpoint", str(run / "best"), "你好。"]) == 0
    assert capsys.readouterr().out.startswith("你好。\t")


def test_french_to_english_through_the_command_line(tmp_path, french_tsv, capsys):
    run = tmp_path / "run"
    assert cli.main(["train", "--data", french_tsv, "--src-lang", "fr", "--tgt-lang", "en",
                     "--valid-size", "1", "--test-size", "1", "--run", str(run),
                     "--steps", "2", "--eval-every", "2", *TINY]) == 0
    assert "fr words, lower-cased -> en words, source = column 2" in capsys.readouterr().out
    _, vocabs, _ = load_translator(run / "best")
    assert "où" in vocabs[0] and "Where" in vocabs[1]  # the source lower-cased, the target not


@pytest.mark.skipif(not TATOEBA.exists(), reason=f"{TATOEBA} is not there (shared data)")
def test_zh_to_en_on_the_shared_tatoeba_file():
    corpus = load_corpus(TrainConfig(data=str(TATOEBA), src_lang="zh", tgt_lang="en"))
    en_zh = load_corpus(TrainConfig(data=str(TATOEBA)))
    assert corpus.source_column == 2 and en_zh.source_column == 1
    assert corpus.splits["test"] == [(zh, en) for en, zh in en_zh.splits["test"]]
    assert "?" in corpus.tgt_vocab and "Tom" in corpus.tgt_vocab  # English keeps its case
