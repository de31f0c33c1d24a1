"""The site's references, made from the code when `mkdocs build` runs (a MkDocs hook).

A page holds a marker, `<!-- generated: NAME -->`, and the build puts the reference in its
place: `config` from cbrun's JSON Schema (`cbrun schema`: every key of every section with
its type, default, bounds, choices and description), `callbacks` from the registry and
the Keras table, `exit-codes` from the exception classes in `cbrun/errors.py`. The CLI
reference is mkdocs-click's, from the click group; the Python API is mkdocstrings'.
Nothing here is written by hand, so the site cannot disagree with the code
(tests/test_docs.py compares them).
"""

from __future__ import annotations

import inspect
import re

MARKER = re.compile(r"<!-- generated: ([\w-]+) -->")


def on_page_markdown(markdown, page, config, files):  # noqa: ARG001 - MkDocs's signature
    return MARKER.sub(lambda found: GENERATORS[found.group(1)](), markdown)


# -- the config ------------------------------------------------------------------------------


def config_rows(schema: dict | None = None) -> list[tuple[str, str, str, str, str]]:
    """`(key, type, default, allowed, description)` for every key of the config: the
    sections' own fields, down to where a key names a Keras class (its arguments are that
    class's, in the callbacks and Keras references)."""
    if schema is None:
        from cbrun.config.json_schema import json_schema

        schema = json_schema()
    defs = schema.get("$defs", {})
    rows = []

    def walk(properties: dict, required, prefix: str) -> None:
        for key, raw in properties.items():
            node = _resolve(raw, defs)
            path = f"{prefix}{key}"
            inner = _section(node, defs)
            kind, default = _type(node, defs), _default(raw, node, key in required)
            if inner is not None and "anyOf" not in node:  # a section: its keys follow
                kind, default = "section", "" if default != "required" else default
            rows.append((path, kind, default, _allowed(node, defs), _description(raw, node)))
            if inner is not None:
                walk(inner.get("properties", {}), inner.get("required", []), path + ".")

    walk(schema["properties"], schema.get("required", []), "")
    described = field_descriptions()
    return [(k, t, d, a, s or described.get(k, "")) for k, t, d, a, s in rows]


def field_descriptions() -> dict[str, str]:
    """`{key: description}` from the pydantic models' field docstrings: the schema swaps
    `model`, `compile` and `callbacks` for the registry's unions, which carry none."""
    from pydantic import BaseModel

    from cbrun.config.spec import RunSpec

    found = {}

    def walk(model, prefix):
        for name, field in model.model_fields.items():
            key = prefix + (field.alias or name)
            found[key] = " ".join((field.description or "").split())
            for kind in getattr(field.annotation, "__args__", ()) or (field.annotation,):
                if isinstance(kind, type) and issubclass(kind, BaseModel):
                    walk(kind, key + ".")

    walk(RunSpec, "")
    return found


def _resolve(node: dict, defs: dict) -> dict:
    """`node`, or the definition its `$ref` points at."""
    while isinstance(node, dict) and "$ref" in node:
        node = defs[node["$ref"].rsplit("/", 1)[1]]
    return node


def _section(node: dict, defs: dict) -> dict | None:
    """The object whose keys are the config's (a section), not a named Keras class."""
    options = [node, *node.get("anyOf", [])]
    for option in options:
        option = _resolve(option, defs)
        if option.get("type") == "object" and "properties" in option:
            title = option.get("title", "")
            if not title.endswith(("Args", "Optimizer", "Metric", "Layer", "Loss")):
                return option
    return None


def _type(node: dict, defs: dict) -> str:
    if "enum" in node or "const" in node:
        return "choice"
    kinds = []
    for option in node.get("anyOf", [node]):
        option = _resolve(option, defs)
        kind = option.get("type") or ("object" if "properties" in option else "any")
        if kind == "array" and isinstance(option.get("items"), dict):
            items = option["items"]
            items = _resolve(items, defs)
            kind = f"list of {items.get('type') or items.get('title') or 'items'}"
        elif kind == "object" and option.get("title"):
            kind = option["title"]
        kinds.append(kind)
    return " or ".join(dict.fromkeys(kinds))


def _default(raw: dict, node: dict, required: bool) -> str:
    if required:
        return "required"
    if "default" in raw:
        return f"`{_short(raw['default'])}`"
    if "default" in node:
        return f"`{_short(node['default'])}`"
    return ""


def _short(value) -> str:
    text = str(value).replace("None", "null").replace("True", "true").replace("False", "false")
    return text if len(text) <= 40 else text[:37] + "..."


def _allowed(node: dict, defs: dict) -> str:
    found = []
    for option in node.get("anyOf", [node]):
        option = _resolve(option, defs)
        if "enum" in option:
            found.append(", ".join(f"`{v}`" for v in option["enum"]))
        if "const" in option:
            found.append(f"`{option['const']}`")
        for word, sign in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="),
                           ("exclusiveMaximum", "<")):  # fmt: skip
            if word in option:
                found.append(f"{sign} {option[word]}")
        if "pattern" in option:
            found.append(f"matches `{option['pattern']}`")
    return "; ".join(found)


def _description(raw: dict, node: dict) -> str:
    text = raw.get("description") or node.get("description") or ""
    return " ".join(text.split())


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def config_reference() -> str:
    """Each top-level key a section (the page's table of contents), each key an entry:
    readable at a phone's width, where a five-column table is not."""
    rows = config_rows()
    out = [
        f"{len(rows)} keys, made from `cbrun schema` when this site was built. A key that names a "
        "Keras class (`model`, `compile.optimizer`, a callback) takes that class's arguments: "
        "see [Callbacks](callbacks.md) and `cbrun list-callbacks NAME`.",
    ]
    for key, kind, default, allowed, said in rows:
        facts = " · ".join(
            part for part in (kind, default and f"default {default}", allowed) if part
        )
        if "." not in key:
            out += ["", f"## `{key}`", "", f"{facts}. {said}", ""]
        else:
            out.append(f"- `{key}` ({facts}): {said}")
    return "\n".join(out) + "\n"


# -- the callbacks ----------------------------------------------------------------------------


def callbacks_reference() -> str:
    from cbrun.catalog.callbacks import callback_registry
    from cbrun.catalog.listing import docstring_markdown

    out = []
    for entry in callback_registry().entries():
        out.append(f"## {entry.name}\n")
        out.append(f"*{entry.origin}* · hooks: {', '.join(entry.hooks) or 'none'}\n")
        if entry.unavailable:
            out.append(f'!!! warning "Not usable from a config"\n    {entry.unavailable}\n')
        out.append(docstring_markdown(entry.doc or entry.summary).replace("\n#", "\n####") + "\n")
    return "\n".join(out)


# -- the exit codes ---------------------------------------------------------------------------


def exit_code_rows() -> list[tuple[str, str, str]]:
    """`(exception, exit code, what it means)` for every exception in cbrun/errors.py."""
    from cbrun import errors

    rows = []
    for name, cls in vars(errors).items():
        if inspect.isclass(cls) and issubclass(cls, errors.CbrunError):
            code = "130 or 143" if cls is errors.RunInterrupted else str(cls.exit_code)
            doc = " ".join((cls.__doc__ or "").split())
            rows.append((name, code, doc))
    return rows


def exit_codes_reference() -> str:
    out = ["| exception (`cbrun/errors.py`) | exit code | meaning |", "| --- | --- | --- |"]
    out += [f"| `{name}` | {code} | {_cell(doc)} |" for name, code, doc in exit_code_rows()]
    return "\n".join(out) + "\n"


GENERATORS = {
    "config": config_reference,
    "callbacks": callbacks_reference,
    "exit-codes": exit_codes_reference,
}
