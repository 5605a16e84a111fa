"""The book: every chapter is a jupytext pair, and every notebook executes from a clean kernel."""

import json
import re
import shutil
import sys
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext")
nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted(p for p in (ROOT / "chapters").glob("[0-9]*.md"))
# every markdown page of the book is paired (jupytext.toml): the chapters and the glossary
PAGES = sorted(p for p in (ROOT / "chapters").glob("*.md") if p.name != "README.md")
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SOLUTIONS = sorted((ROOT / "notebooks" / "solutions").glob("*.ipynb"))


def cells(nb):
    return [(c.cell_type, c.source.strip()) for c in nb.cells]


def test_every_chapter_has_its_notebook_and_back():
    assert {p.stem for p in PAGES} == {p.stem for p in NOTEBOOKS}
    solutions = sorted((ROOT / "chapters" / "solutions").glob("*.md"))
    assert {p.stem for p in solutions} == {p.stem for p in SOLUTIONS}


PAIRS = PAGES + sorted((ROOT / "chapters" / "solutions").glob("*.md"))


@pytest.mark.parametrize("md", PAIRS, ids=[p.relative_to(ROOT / "chapters").as_posix()
                                           for p in PAIRS])
def test_pair_is_one_document(md):
    """The markdown and the notebook hold the same cells (`jupytext --sync` re-pairs them)."""
    ipynb = ROOT / "notebooks" / md.parent.relative_to(ROOT / "chapters") / f"{md.stem}.ipynb"
    assert cells(jupytext.read(md)) == cells(nbformat.read(ipynb, as_version=4)), (
        f"{md.name} and {ipynb.name} differ: run `jupytext --sync {md.relative_to(ROOT)}`")


@pytest.fixture(scope="module")
def this_python_kernel(tmp_path_factory):
    """A "python3" kernelspec that runs this interpreter, ahead of any other on the machine."""
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / "python3"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps(
        {"argv": argv, "display_name": "Python 3", "language": "python"}))
    return root


@pytest.fixture(scope="module")
def committed_figures(tmp_path_factory):
    """figures/ as it was before the notebooks ran, put back afterwards: the chapters save their
    figures there, and a CI-mode run (smaller configurations) must not replace the full ones."""
    saved = tmp_path_factory.mktemp("figures") / "figures"
    shutil.copytree(ROOT / "figures", saved)
    yield
    shutil.rmtree(ROOT / "figures")
    shutil.copytree(saved, ROOT / "figures")


@pytest.mark.slow
@pytest.mark.parametrize("ipynb", NOTEBOOKS + SOLUTIONS, ids=[
    p.relative_to(ROOT / "notebooks").as_posix() for p in NOTEBOOKS + SOLUTIONS])
def test_notebook_executes(ipynb, this_python_kernel, committed_figures, monkeypatch):
    """Run the notebook from a clean kernel, errors fatal (saved outputs and figures/ are not
    touched)."""
    monkeypatch.setenv("JUPYTER_PATH", str(this_python_kernel))
    monkeypatch.setenv("TINYTRANSFORMER_CI", "1")  # chapters may run a smaller configuration
    nb = nbformat.read(ipynb, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(ipynb.parent)}})
    client.execute()


# Every number the prose states must be one the chapter's own outputs print (or its code sets),
# so prose cannot drift from what the run showed. The committed notebooks hold the full-mode
# outputs; numbers that come from elsewhere (a paper, a format's definition, arithmetic on the
# page) are listed here with where they come from.
NOT_FROM_A_RUN = {
    "00_engine": {"40": "micrograd-sized toy: a length, not a result", "5000": "exercise setting"},
    "05_attention_formula": {"20000": "sample size stated in the code as 20_000"},
    "09_summarisation": {"50": "chance with two candidates"},
    "10_cost_of_scale": {"1000": "the reference configuration", "175": "GPT-3 (Brown et al. 2020)",
                         "300": "GPT-3's training tokens (Brown et al. 2020)"},
    "11_model_size": {"20000": "the toy corpus's size, data.toy"},
    "12_better_models": {"20000": "the toy corpus's size", "500": "validation set size"},
    "08_translation": {"128": "the default d_model, TranslatorConfig"},
    "13_bias": {"4000": "20 000 pairs minus the held-out ones", "90": "the skew the data sets",
                "10": "1 - 0.9, the skew the data sets; label smoothing's 0.1 as a percentage"},
    "14_pretrained": {"10000": "RoFormer's base", "256": "bytes", "48900": "merges in the file",
                      "34": "Q8_0 block bytes", "8.5": "Q8_0 bits a weight",
                      "135": "the model's name", "1011111": "a decoded string"},
}
NUMBER = re.compile(r"(?<![\w.§-])(\d[\d,]*(?:\.\d+)?)(?![\w]|\.\d)")


def prose_numbers(markdown):
    """The numbers a markdown cell states in prose: not in headings, formulas, code or links,
    not section or chapter references, not years, not one-digit integers."""
    text = "\n".join(line for line in markdown.splitlines() if not line.startswith("#"))
    for pattern in (r"\$\$.*?\$\$", r"\$[^$]*\$", r"`[^`]*`", r"\]\([^)]*\)", r"§\s*\d+(\.\d+)*",
                    r"(?i)\b(chapters?|ch)\s*\d+(\s*(,|and|–|-|to)\s*\d+)*"):
        text = re.sub(pattern, " ", text, flags=re.S)
    text = re.sub(r"(?<=\d)[ \u202f\u2009](?=\d{3}\b)", "", text)  # 20 000 -> 20000
    for match in NUMBER.finditer(text):
        n = match.group(1).rstrip(",").replace(",", "")
        if ("." in n or len(n) > 1) and not re.fullmatch(r"(19|20)\d\d", n):
            yield n, text[max(0, match.start() - 40):match.end() + 20].replace("\n", " ")


def printed_numbers(nb):
    """Every number in the notebook's outputs and code, without thousands separators."""
    texts = [c.source for c in nb.cells if c.cell_type == "code"]
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            texts.append(out.get("text", ""))
            texts.extend(v for k, v in out.get("data", {}).items() if k.startswith("text/"))
    return {n.replace(",", "") for n in NUMBER.findall("\n".join(texts))}


def shown(n, known):
    """n is printed as it is, or is a printed number rounded to n's decimals."""
    decimals = len(n.partition(".")[2])
    return n in known or any("." in k and f"{float(k):.{decimals}f}" == n for k in known)


@pytest.mark.parametrize("ipynb", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_prose_numbers_are_in_the_outputs(ipynb):
    nb = nbformat.read(ipynb, as_version=4)
    known = printed_numbers(nb) | set(NOT_FROM_A_RUN.get(ipynb.stem, {}))
    missing = [f"{n} in '…{where}…'" for cell in nb.cells if cell.cell_type == "markdown"
               for n, where in prose_numbers(cell.source) if not shown(n, known)]
    listed = "\n  ".join(missing)
    assert not missing, (f"{ipynb.stem}: the prose states numbers no output shows (print them, or "
                         f"list them in NOT_FROM_A_RUN with their source):\n  {listed}")


def test_the_number_check_fails_on_a_number_no_output_shows():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("print(0.4412)", outputs=[
            nbformat.v4.new_output("stream", name="stdout", text="0.4412\n")]),
        nbformat.v4.new_markdown_cell("Heads put 0.44 on place words, never 0.94 (§6.1, 2017).")])
    known = printed_numbers(nb)
    stated = [n for cell in nb.cells if cell.cell_type == "markdown"
              for n, _ in prose_numbers(cell.source)]
    assert stated == ["0.44", "0.94"]
    assert [shown(n, known) for n in stated] == [True, False]


# What every chapter gives a reader besides its body (issue 15): a 中文 summary at the top, one
# "predict before you run" question, exercises as stubs with a check (answers in solutions/,
# where every check is asserted), and credits.


def missing_parts(md):
    """What chapter `md` lacks of the parts every chapter has."""
    nb = jupytext.read(md)
    first_code = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    top = "\n".join(c.source for c in nb.cells[:first_code] if c.cell_type == "markdown")
    summary = top.partition("## 摘要")[2].split("\n#")[0]
    chinese_lines = [line for line in summary.splitlines() if re.search(r"[\u4e00-\u9fff]", line)]
    text = md.read_text(encoding="utf-8")
    exercises = text.partition("## Exercises")[2].split("\n## ")[0]
    solution = ROOT / "chapters" / "solutions" / md.name
    checks = len(re.findall(r"\bcheck\(", exercises))
    missing = {
        "a 摘要 of 5-8 Chinese lines before the first code cell": not 5 <= len(chinese_lines) <= 8,
        "a 'Predict before you run' question": "**Predict before you run.**" not in text,
        "exercises with a check(...) cell": checks == 0,
        "no solution printed under an exercise": 'tags=["solution"]' in text,
        "its solutions in chapters/solutions/, each check asserted": not solution.exists()
        or len(re.findall(r"assert check\(", solution.read_text(encoding="utf-8"))) < checks,
        "a '## Credits and further reading' section": "## Credits and further reading" not in text,
    }
    return [what for what, lacking in missing.items() if lacking]


@pytest.mark.parametrize("md", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_has_summary_prediction_exercises_and_credits(md):
    missing = missing_parts(md)
    assert not missing, f"{md.stem} lacks: " + "; ".join(missing)


def test_the_parts_check_names_what_a_chapter_lacks(tmp_path):
    """A chapter with a 摘要 of one line, its solution printed under the exercise and no
    credits is told exactly those three things."""
    md = tmp_path / "99_draft.md"
    md.write_text("# 99 · A draft\n\n## 摘要\n\n只有一行。\n\n```python\nx = 1\n```\n\n"
                  "**Predict before you run.** What is x?\n\n## Exercises\n\n**1.** Set x.\n\n"
                  '```python tags=["solution"]\nx = 1\n```\n\n```python\ncheck(x, 1)\n```\n',
                  encoding="utf-8")
    assert missing_parts(md) == [
        "a 摘要 of 5-8 Chinese lines before the first code cell",
        "no solution printed under an exercise",
        "its solutions in chapters/solutions/, each check asserted",
        "a '## Credits and further reading' section"]
