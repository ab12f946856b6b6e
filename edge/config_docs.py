"""Write the configuration reference (docs/configuration.md) from the pydantic models themselves.

    python -m edge.config_docs > docs/configuration.md

A test checks the committed file matches, so the reference cannot drift from the code.
"""

from __future__ import annotations

import types
import typing
from typing import Any, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from edge.config import NodeConfig

HEADER = """# Configuration reference

One YAML file describes a site's hall for `hallwatch replay` and an edge node for `hallwatch edge run`.
Unknown keys are refused everywhere, and a mistake is reported with the field's path, e.g.
`zones[1].max_people: Input should be greater than or equal to 1`.
This page is generated from the code (`python -m edge.config_docs`); edit the models, not this file.

Examples: `edge/demo/vtest-hall.yaml` (replay and the demo node), `deploy/node.example.yaml`.
"""


def render() -> str:
    sections: list[str] = [HEADER]
    seen: set[type[BaseModel]] = set()
    queue: list[tuple[str, type[BaseModel]]] = [("(top level)", NodeConfig)]
    while queue:
        path, model = queue.pop(0)
        if model in seen:
            continue
        seen.add(model)
        title = path if path != "(top level)" else "Top level"
        doc = (model.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
        sections.append(f"\n## {title}  (`{model.__name__}`)\n")
        if doc and not doc.startswith("!!!"):
            sections.append(f"{doc}\n")
        sections.append("| key | type | default | meaning |\n|---|---|---|---|")
        for name, field in model.model_fields.items():
            sections.append(
                f"| `{name}` | {_type_name(field.annotation)} | {_default(field)} | {_meaning(field)} |"
            )
            for child, suffix in _nested_models(field.annotation):
                prefix = "" if path == "(top level)" else path + "."
                queue.append((f"{prefix}{name}{suffix}", child))
    return "\n".join(sections) + "\n"


def _nested_models(annotation: Any) -> list[tuple[type[BaseModel], str]]:
    found: list[tuple[type[BaseModel], str]] = []
    origin = get_origin(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [(annotation, "")]
    if origin is typing.Annotated:
        return _nested_models(get_args(annotation)[0])
    if origin is list:
        return [(m, "[]" + s) for m, s in _nested_models(get_args(annotation)[0])]
    if origin in (typing.Union, types.UnionType):
        for arg in get_args(annotation):
            for model, suffix in _nested_models(arg):
                kind = model.model_fields.get("kind")
                label = (
                    f" (kind: {kind.annotation.__args__[0]})" if kind is not None and kind.annotation else ""
                )
                found.append((model, suffix + label))
    return found


def _type_name(annotation: Any) -> str:
    origin = get_origin(annotation)
    if origin is typing.Annotated:
        return _type_name(get_args(annotation)[0])
    if origin is typing.Literal:
        return " \\| ".join(f"`{a}`" for a in get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in get_args(annotation))
    if origin in (list, tuple):
        args = get_args(annotation)
        if origin is list or Ellipsis in args:
            return f"list of {_type_name(args[0])}"
        return "[" + ", ".join(_type_name(a) for a in args) + "]"
    if annotation is type(None):
        return "null"
    return getattr(annotation, "__name__", str(annotation))


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    value = field.default_factory() if field.default_factory is not None else field.default  # type: ignore[call-arg]
    if value is PydanticUndefined:
        return "required"
    if isinstance(value, BaseModel):
        return "see below"
    return f"`{value}`" if value not in (None, []) else ("none" if value is None else "`[]`")


def _meaning(field: FieldInfo) -> str:
    text = field.description or ""
    bounds = [
        f"{label} {getattr(m, attr)}"
        for m in field.metadata
        for attr, label in (
            ("ge", "≥"),
            ("gt", ">"),
            ("le", "≤"),
            ("lt", "<"),
            ("multiple_of", "multiple of"),
        )
        if getattr(m, attr, None) is not None
    ]
    if bounds:
        text = f"{text} ({', '.join(bounds)})" if text else ", ".join(bounds)
    return text.replace("|", "\\|").replace("\n", " ")


if __name__ == "__main__":
    import sys

    sys.stdout.write(render())
