"""`tinytransformer bench`: the command line, one section end to end, and the kernel table."""

import importlib
import json

import numpy as np
import pytest

from tinytransformer import bench, cli
from tinytransformer.bench import kernels as bench_kernels

from .test_kernels import TWINS


@pytest.mark.parametrize("argv, sections", [
    (["bench"], None),  # every section
    (["bench", "step", "decode"], ["step", "decode"]),
])
def test_bench_command_line_parses(argv, sections):
    args = cli.build_parser().parse_args(argv)
    assert (args.what or None) == sections and set(bench.SECTIONS) >= set(args.what or [])
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["bench", "bogus"])


@pytest.mark.parametrize("name", list(bench.SECTIONS))
def test_every_section_has_a_measure(name):
    module = importlib.import_module(f"tinytransformer.bench.{bench.SECTIONS[name]}")
    assert callable(module.measure)


def test_engine_section_end_to_end(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert cli.main(["bench", "engine", "--json", str(out)]) == 0
    assert "engine overhead" in capsys.readouterr().out
    results = json.loads(out.read_text())
    assert set(results) == {"machine", "engine"}
    assert set(results["engine"]) == {"numpy_us", "engine_us", "ratio"}
    r = results["engine"]
    assert r["numpy_us"] > 0 and r["engine_us"] > 0
    assert r["ratio"] == pytest.approx(r["engine_us"] / r["numpy_us"])


def test_benchmark_kernels_reports_every_kernel():
    numba = pytest.importorskip("numba")
    if numba.config.DISABLE_JIT:
        pytest.skip("pure-Python loops at the model's sizes take minutes")
    rows = bench_kernels.benchmark_kernels(np.float32, repeats=1)
    assert {r["kernel"] for r in rows} >= set(TWINS) | {"dropout_mask"}
    assert all(r["numpy_us"] > 0 and r["numba_us"] > 0 for r in rows)
    race = [r for r in rows if r["kernel"] == "matmul_blocked"]
    assert [r["shape"] for r in race] == list(bench_kernels.MATMUL_SHAPES)
    assert "\nmatmul_blocked " in "\n" + bench_kernels.format_table(rows)


def test_tokenizers_section_on_a_small_slice(capsys):
    from tinytransformer.bench import tokenizers
    from tinytransformer.data.fortunes import find_fortune_file

    if find_fortune_file("chinese") is None or find_fortune_file("wisdom") is None:
        pytest.skip("the fortune files are not installed (apt-get install fortunes fortunes-zh)")
    r = tokenizers.measure(train_bytes=20_000, encode_bytes=20_000, num_merges=50)
    assert r["train_zh_s"] > 0 and r["train_en_s"] > 0
    assert all(v > 0 for k, v in r.items() if k.endswith("tokens_per_s"))
    assert "train_bpe: 50 merges on 0.02 MB" in capsys.readouterr().out


def test_interleaved_rotates_the_order_and_reads_the_clock_it_is_given():
    now, calls = [0.0], []
    cost = {"a": 1.0, "b": 2.0, "c": 4.0}

    def run(name):
        def f():
            calls.append(name)
            now[0] += cost[name]
        return f

    medians = bench.interleaved({n: run(n) for n in cost}, repeats=6, warmup=1,
                                clock=lambda: now[0])
    assert medians == cost  # each call timed by the given clock, nothing else
    timed = calls[len(cost):]  # after one warm-up round
    rounds = [timed[i:i + 3] for i in range(0, len(timed), 3)]
    assert rounds[:3] == [["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"]]
    follows = [(x, y) for r in rounds for x, y in zip(r, r[1:])]
    assert {pair: follows.count(pair) for pair in set(follows)} == {
        ("a", "b"): 4, ("b", "c"): 4, ("c", "a"): 4}  # no function always runs after the same one
