"""The book: every chapter is a jupytext pair, and every notebook executes from a clean kernel."""

import json
import shutil
import sys
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext")
nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted(p for p in (ROOT / "chapters").glob("[0-9]*.md"))
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def cells(nb):
    return [(c.cell_type, c.source.strip()) for c in nb.cells]


def test_every_chapter_has_its_notebook_and_back():
    assert {p.stem for p in CHAPTERS} == {p.stem for p in NOTEBOOKS}


@pytest.mark.parametrize("md", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_pair_is_one_document(md):
    """The markdown and the notebook hold the same cells (`jupytext --sync` re-pairs them)."""
    ipynb = ROOT / "notebooks" / f"{md.stem}.ipynb"
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
@pytest.mark.parametrize("ipynb", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(ipynb, this_python_kernel, committed_figures, monkeypatch):
    """Run the notebook from a clean kernel, errors fatal (saved outputs and figures/ are not
    touched)."""
    monkeypatch.setenv("JUPYTER_PATH", str(this_python_kernel))
    monkeypatch.setenv("TINYTRANSFORMER_CI", "1")  # chapters may run a smaller configuration
    nb = nbformat.read(ipynb, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(ipynb.parent)}})
    client.execute()
