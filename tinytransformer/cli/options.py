"""What every command shares: flags built from config dataclasses, value checks as argparse
types, and the error a command raises when it cannot do what it was asked."""

from __future__ import annotations

import argparse
from dataclasses import MISSING, fields


class CommandError(RuntimeError):
    """A command cannot do what it was asked; the message says what to do instead."""


def checked(check):
    """An argparse `type` from a check of values.py: its message becomes argparse's."""
    def parse(text: str):
        try:
            return check(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    parse.__name__ = check.__name__
    return parse


def add_fields(p, cls, names, checks=None, helps=None) -> None:
    """One `--field-name` flag per named field of the dataclass `cls`, with the field's default,
    check and help unless `checks` / `helps` give them.

    Flags the user does not give are absent from the parsed args (argparse.SUPPRESS), so the
    dataclass's own default applies, and `--resume` can tell what was asked for explicitly.
    """
    for f in fields(cls):
        if f.name not in names:
            continue
        check = (checks or {}).get(f.name) or f.metadata.get("check")
        default = None if f.default is MISSING else f.default
        help_text = (helps or {}).get(f.name) or f.metadata.get("help", "")
        kind = checked(check) if check else str if default is None else type(default)
        p.add_argument(f"--{f.name.replace('_', '-')}", type=kind, default=argparse.SUPPRESS,
                       help=f"{help_text} (default: {default})".replace("%", "%%"))
