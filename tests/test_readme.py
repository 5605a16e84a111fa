"""README stays true: its test command is the one CI runs, and its commands exist."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_ci_runs_readmes_test_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()[-1]
    assert ci in README, f"README must show the command CI runs: {ci}"


def test_cli_help_and_version():
    for args in (["--help"], ["--version"]):
        out = subprocess.run([sys.executable, "-m", "tinytransformer.cli", *args],
                             capture_output=True, text=True, check=True).stdout
        assert "tinytransformer" in out


def test_readme_subcommands_exist():
    from tinytransformer.cli import COMMANDS

    used = set(re.findall(r"^\s*(?:\$ )?tinytransformer (\w+)", README, flags=re.M))
    used |= set(re.findall(r"&& tinytransformer (\w+)", README))
    assert used <= set(COMMANDS), f"README uses unknown subcommands {used - set(COMMANDS)}"
