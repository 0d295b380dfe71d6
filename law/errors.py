"""The one exception type for bad user input (it names the input, the rule and the value), and a
JSON file reader that raises it."""

from __future__ import annotations


class InputError(ValueError):
    """A user-supplied value breaks a rule.

    ``str(err)`` is one line of the form ``<input>: <rule> (got <value>)`` so that the command
    line can print it as is and exit with status 2.
    """

    def __init__(self, input_name: str, rule: str, value: object) -> None:
        self.input_name = input_name
        self.rule = rule
        self.value = value
        super().__init__(f"{input_name}: {rule} (got {_short(value)})")

    def renamed(self, names: dict[str, str]) -> "InputError":
        """The same error under the caller's name for the input (e.g. a library field as its flag)."""
        return InputError(names.get(self.input_name, self.input_name), self.rule, self.value)


def _short(value: object, limit: int = 120) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def read_json_file(path, label: str):
    """Parse a JSON file; a missing file, bad bytes or bad JSON raise ``InputError`` named ``label``."""
    import json
    from pathlib import Path

    p = Path(path)
    if not p.is_file():
        raise InputError(label, "file must exist", str(p))
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError(label, "must be UTF-8 text", f"invalid byte at offset {exc.start}") from None
    except json.JSONDecodeError as exc:
        raise InputError(label, "must be valid JSON", f"line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except ValueError:  # an integer of thousands of digits
        raise InputError(label, "must not hold integers of more than 4,300 digits", "a longer integer") from None
    except RecursionError:
        raise InputError(label, "must not nest arrays or objects hundreds deep", "deeper nesting") from None
