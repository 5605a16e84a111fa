"""`tinytransformer chat` and `generate` with SmolLM2: answers on stdout and speed on stderr,
greedy and seeded sampling, --raw, the context limit (refused prompt, generation stopped at the
limit), a conversation kept (and forgotten at /reset), Ctrl-C that stops an answer and not the
session, and the message when the weights are not fetched. The model is loaded once (about a
second); the tests that need it skip, naming the command that fetches it, when it is absent."""

import io

import pytest

from tinytransformer import cli
from tinytransformer.models.llama_fast import FastLlama
from tinytransformer.pretrained import ModelNotFetchedError, smollm2

FRANCE = "What is the capital of France?"


@pytest.fixture(scope="module")
def llm():
    try:
        return smollm2.load_smollm2()
    except ModelNotFetchedError as e:
        pytest.skip(f"SmolLM2 is not fetched ({e})")


@pytest.fixture
def loaded(llm, monkeypatch):
    """The commands get the model loaded once for the module."""
    monkeypatch.setattr(smollm2, "load_smollm2", lambda weights="q4": llm)
    return llm


def run(capsys, *argv, stdin=None, monkeypatch=None):
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_not_fetched_says_how_to_fetch(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TINYTRANSFORMER_CACHE", str(tmp_path))
    for argv in (["generate", "hi"], ["chat"]):
        code, out, err = run(capsys, *argv, stdin="", monkeypatch=monkeypatch)
        lines = err.strip().splitlines()
        assert code == 1 and out == "" and len(lines) == 1, err
        assert lines[0].startswith(f"tinytransformer {argv[0]}: error: ")
        assert "run `tinytransformer fetch smollm2` first" in lines[0]


@pytest.mark.parametrize("argv, message", [
    (["generate", "--top-p", "1.5", "hi"], "argument --top-p: must be in (0, 1]"),
    (["generate", "--temperature", "-1", "hi"], "argument --temperature: must be a finite"),
    (["generate", "--repetition-penalty", "0", "hi"], "argument --repetition-penalty: must be"),
    (["chat", "--max-new-tokens", "0"], "argument --max-new-tokens: must be a whole number >= 1"),
    (["generate", "--model", "gpt5", "hi"], "argument --model: invalid choice: 'gpt5'"),
])
def test_bad_values_are_refused_while_parsing(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_raw_and_system_together_are_refused(capsys):
    code, _, err = run(capsys, "generate", "--raw", "--system", "be brief", "hi")
    assert code == 1 and "--system needs the chat template" in err


def test_generate_greedy_answer_on_stdout_speed_on_stderr(loaded, capsys):
    code, out, err = run(capsys, "generate", "--max-new-tokens", "32", FRANCE)
    assert code == 0 and out == "The capital of France is Paris.\n"  # transformers' answer
    assert "tokens/s" in err and "7 tokens" in err


def test_sampling_is_seeded(loaded, capsys):
    argv = ["generate", "--max-new-tokens", "12", "--temperature", "1.2", "--top-k", "50",
            "--top-p", "0.95", "--repetition-penalty", "1.3", "--seed", "3", "Tell me a story."]
    first, second = run(capsys, *argv)[1], run(capsys, *argv)[1]
    other = run(capsys, *argv[:-2], "4", argv[-1])[1]
    assert first == second and first != other


def test_raw_continues_the_text(loaded, capsys):
    code, out, err = run(capsys, "generate", "--raw", "--max-new-tokens", "3",
                         "The capital of France is")
    assert code == 0 and out.startswith(" Paris") and "stopped at --max-new-tokens" in err


def test_context_limit(loaded, capsys):
    """A prompt longer than the context is refused; an answer stops when the context is full
    (the chat template of FRANCE is 37 tokens)."""
    code, out, err = run(capsys, "generate", "--context", "30", FRANCE)
    assert code == 1 and out == ""
    assert "the prompt has 37 tokens (in the chat template), more than the context of 30 " \
           "tokens; shorten the prompt" in err
    code, out, err = run(capsys, "generate", "--context", "40", "--max-new-tokens", "50", FRANCE)
    assert code == 0 and out == "The capital of France\n"  # read 37 + 3, then the 4th: full
    assert "stopped: the context of 40 tokens is full" in err


def test_chat_keeps_the_conversation_until_reset(loaded, capsys, monkeypatch):
    code, out, err = run(capsys, "chat", stdin=f"{FRANCE}\nAnd of Germany?\n/reset\n\n/quit\nx\n",
                         monkeypatch=monkeypatch)
    assert code == 0
    assert out.splitlines() == ["The capital of France is Paris.",
                                "The capital of Germany is Berlin."]  # "x" after /quit: unread
    assert err.count("tokens/s") == 2 and "[a new conversation]" in err


def test_ctrl_c_stops_the_answer_not_the_session(loaded, capsys, monkeypatch):
    """KeyboardInterrupt in the middle of the 3rd decoding step (inside the model)."""
    calls, forward = [], FastLlama.__call__

    def interrupted(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 4:  # the prompt, then 3 one-token steps
            raise KeyboardInterrupt
        return forward(self, *args, **kwargs)

    monkeypatch.setattr(FastLlama, "__call__", interrupted)
    code, out, err = run(capsys, "chat", stdin=f"{FRANCE}\nAnd of Germany?\n",
                         monkeypatch=monkeypatch)
    assert code == 0 and "stopped (Ctrl-C)" in err and err.count("tokens/s") == 2
    first, second = out.splitlines()
    assert first == "The capital of"  # shown, kept, and closed as an answer
    assert "Germany" in second


def test_the_model_reads_the_whole_conversation_in_the_template(llm):
    """Turn by turn, the session feeds only what is new; what the model has read is the
    template of the whole conversation (apply_chat_template equals transformers')."""
    from tinytransformer.pretrained.session import ChatSession
    from tinytransformer.tokenizers import apply_chat_template

    chat = ChatSession(llm, system="You are brief.")
    answers = ["".join(chat.say(q, 32)) for q in (FRANCE, "And of Germany?")]
    messages = [{"role": "system", "content": "You are brief."}]
    for q, a in zip((FRANCE, "And of Germany?"), answers):
        messages += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
    expected = apply_chat_template(messages, add_generation_prompt=False)
    assert llm.tokenizer.decode(chat.ids + chat.unfed) + "\n" == expected
    assert len(chat.ids) == chat.cache.offset


@pytest.mark.slow
def test_sigint_stops_the_answer_in_a_real_process(llm):
    """A real Ctrl-C (SIGINT) to `tinytransformer chat` while it writes: the answer stops, the
    next question is answered, and the session ends normally."""
    import os
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "tinytransformer.cli", "chat",
                             "--max-new-tokens", "400"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    proc.stdin.write("Write a long story about a dragon and a knight.\n")
    proc.stdin.flush()
    shown = proc.stdout.read(20)  # the answer has started
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(f"{FRANCE}\n/quit\n", timeout=300)
    assert proc.returncode == 0, err
    assert "stopped (Ctrl-C)" in err and err.count("tokens/s") == 2
    assert len(shown) == 20 and "The capital of France is Paris." in out


@pytest.mark.slow
def test_float32_weights_give_the_same_answer(llm, capsys):
    """--weights float32 de-quantises once and multiplies with BLAS (about 10 s to load)."""
    code, out, _ = run(capsys, "generate", "--weights", "float32", "--max-new-tokens", "32",
                       FRANCE)
    assert code == 0 and out == "The capital of France is Paris.\n"


@pytest.mark.slow
def test_bench_llm_measures_our_paths(llm):
    from tinytransformer.bench import llm as bench_llm

    r = bench_llm.speeds(["numpy", "numba"], repeats=2)
    assert all(r[p]["decode_tokens_per_s"] > 0 and r[p]["prefill_256_s"] > 0 for p in r)
    assert bench_llm.peak_memory("numba") < 2**30  # the 4-bit path fits in 1 GiB
