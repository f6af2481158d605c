"""Regenerate the generated sections of the docs from the code (``make docs``).

A section sits between ``<!-- BEGIN GENERATED: name -->`` and ``<!-- END GENERATED: name -->``;
``tests/test_docs.py`` fails when a section is stale.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from kizuna.services.imports.specs import ENTITIES, EntitySpec  # noqa: E402
from kizuna.settings import Settings  # noqa: E402

_KIND = {
    "text": "text",
    "integer": "whole number",
    "number": "number",
    "boolean": "true / false",
    "choice": "one of",
    "date": "date",
    "datetime": "date and time",
    "reference": "reference",
    "money": "amount",
    "currency": "currency code",
    "email": "email address",
    "domain": "domain name",
    "json": "JSON object",
}


def entity_table(spec: EntitySpec) -> str:
    lines = [
        f"### `{spec.name.replace('_', '-')}` — {spec.summary}",
        "",
        f"File name in a folder import or export: `{spec.name}.csv` (or `.jsonl`). "
        f"Key: {', '.join(f'`{k}`' for k in spec.key)}"
        + (" — a row whose key is already stored is left as it was (events are immutable)." if spec.immutable else "."),
        "",
        "| column | type | required | default | notes |",
        "|---|---|---|---|---|",
    ]
    fields = list(spec.fields) + ([spec.self_ref] if spec.self_ref else [])
    for fd in fields:
        kind = _KIND.get(fd.kind, fd.kind)
        if fd.ref is not None:
            kind = f"{fd.ref.noun} `{fd.ref.key}`"
        default = (
            "" if fd.default is None or callable(fd.default)  # a setting's value: the notes name it
            else f"`{str(fd.default).lower() if isinstance(fd.default, bool) else fd.default}`"
        )
        lines.append(f"| `{fd.column}` | {kind} | {'yes' if fd.required else ''} | {default} | {fd.help} |")
    if spec.custom_fields:
        lines.append(
            "| `custom.<name>` | text | | | any number of custom fields, kept as text (`custom_fields` object in JSON Lines) |"
        )
    return "\n".join(lines)


def settings_table() -> str:
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        lines.append(f"| `KIZUNA_{name.upper()}` | `{field.default}` | {field.description} |")
    return "\n".join(lines)


def synonym_table() -> str:
    """The header names the upload's column mapping recognises, per entity and column."""
    from kizuna.services.imports.mapping import header_names, normalize, synonyms

    lines = ["| entity | column | header names recognised (compared without case, width, spaces, `_ - ・ ()`) |",
             "|---|---|---|"]  # fmt: skip
    for spec in ENTITIES.values():
        table = synonyms(spec)
        by_column: dict[str, list[str]] = {}
        for name, column in header_names(spec):
            shown = by_column.setdefault(column, [])
            key = normalize(name)
            # a name claimed first by another column, or the same name written otherwise, is not repeated
            if key != normalize(column) and table[key] == column and key not in {normalize(n) for n in shown}:
                shown.append(name)
        by_column = {c: names for c, names in by_column.items() if names}
        for column, names in by_column.items():
            lines.append(f"| `{spec.name}` | `{column}` | {', '.join(names)} |")
    return "\n".join(lines)


SECTIONS = {
    ("docs/import.md", "entities"): lambda: "\n\n".join(entity_table(s) for s in ENTITIES.values()),
    ("docs/import.md", "header-names"): synonym_table,
    ("docs/settings.md", "settings"): settings_table,
}


def render(text: str, name: str, body: str) -> str:
    pattern = re.compile(rf"(<!-- BEGIN GENERATED: {name} -->\n)(?:.*?\n)?(<!-- END GENERATED: {name} -->)", re.DOTALL)
    if not pattern.search(text):
        raise SystemExit(f"no generated section {name!r}")
    return pattern.sub(lambda m: m.group(1) + body + "\n" + m.group(2), text)


def generate() -> dict[Path, str]:
    out: dict[Path, str] = {}
    for (file, name), make in SECTIONS.items():
        path = ROOT / file
        text = out.get(path, path.read_text(encoding="utf-8"))
        out[path] = render(text, name, make())
    return out


def main() -> None:
    for path, text in generate().items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
