"""compare_archs --append: a later pass adds its runs to the grid's file without losing the
earlier ones (figures/08_compare.json holds two passes)."""

import json

from tinytransformer.compare_archs import write_grid


def run(data, arch, seed, bleu):
    return {"data": data, "arch": arch, "seed": seed, "test_bleu": bleu}


def test_append_keeps_earlier_runs_replaces_the_same_run_and_lists_each_pass(tmp_path):
    path = tmp_path / "grid.json"
    first = {"minutes": 1.2, "wall_seconds": 100, "data": ["hsk"]}
    write_grid(path, first, [run("hsk", "rnn", 0, 5.0), run("hsk", "rnn", 1, 6.0)])
    second = {"minutes": 1.2, "wall_seconds": 50, "data": ["toy"]}
    write_grid(path, second, [run("toy", "rnn", 0, 80.0), run("hsk", "rnn", 1, 7.0)], append=True)
    out = json.loads(path.read_text(encoding="utf-8"))
    assert [(r["data"], r["seed"], r["test_bleu"]) for r in out["runs"]] == [
        ("hsk", 0, 5.0), ("toy", 0, 80.0), ("hsk", 1, 7.0)]
    assert [p["wall_seconds"] for p in out["passes"]] == [100, 50]


def test_without_append_the_file_is_replaced(tmp_path):
    path = tmp_path / "grid.json"
    write_grid(path, {"data": ["hsk"]}, [run("hsk", "rnn", 0, 5.0)])
    write_grid(path, {"data": ["toy"]}, [run("toy", "rnn", 0, 80.0)])
    out = json.loads(path.read_text(encoding="utf-8"))
    assert [r["data"] for r in out["runs"]] == ["toy"] and len(out["passes"]) == 1


def test_a_file_written_before_passes_existed_becomes_the_first_pass(tmp_path):
    path = tmp_path / "grid.json"
    old = {"minutes": 1.2, "note": "old", "runs": [run("hsk", "rnn", 0, 5.0)]}
    path.write_text(json.dumps(old))
    write_grid(path, {"data": ["toy"]}, [run("toy", "rnn", 0, 80.0)], append=True)
    out = json.loads(path.read_text(encoding="utf-8"))
    assert out["passes"][0] == {"minutes": 1.2, "note": "old", "data": ["hsk"]}
    assert len(out["runs"]) == 2
