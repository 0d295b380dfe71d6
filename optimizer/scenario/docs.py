"""The field-by-field documentation of scenario files, generated from the schema's tables."""

from __future__ import annotations

from perflaw.optimizer.scenario.schema import KINDS, REQUIRED, SECTIONS, Field, allowed, fmt_number


def _default_text(f: Field) -> str:
    if f.default_doc is not None:
        return f.default_doc
    d = f.default
    if d is REQUIRED:
        return "required"
    if d is None:
        return "absent"
    if isinstance(d, bool):
        return str(d).lower()
    if isinstance(d, str):
        return f'"{d}"'
    if isinstance(d, tuple):
        return "[" + ", ".join(f'"{e}"' if isinstance(e, str) else fmt_number(e) for e in d) + "]"
    return fmt_number(d) if not isinstance(d, float) or d.is_integer() else f"{d:g}"


def schema_markdown() -> str:
    """The field-by-field schema of scenario files as Markdown, generated from the validation tables."""
    out = []
    for s in SECTIONS:
        title = "top level" if not s.name else (f"[[{s.name}]]" if s.array else f"[{s.name}]")
        need = "required" if s.required else "one per budget of a review" if s.array else "optional"
        out += [f"#### `{title}` ({need})" if s.name else "#### top level", "", s.doc, "",
                "| key | type | default | allowed | meaning |", "|---|---|---|---|---|"]
        for f in s.fields:
            cells = [f"`{f.key}`", KINDS[f.kind], _default_text(f), allowed(f), f.doc]
            out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"
