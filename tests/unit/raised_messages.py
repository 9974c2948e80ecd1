"""The messages the code raises to people, read from the source: every string or f-string given
as the message of a domain error (incidents.errors) or of an error whose text the API passes on
(geometry, places, locations, subscriptions, channels, missions, import rows)."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("geo", "incidents", "alerts", "missions", "api")
# Error class -> position of its message argument.
MESSAGE_ARG = {
    "DomainError": 0,
    "NotFound": 0,
    "Forbidden": 0,
    "Conflict": 0,
    "PreconditionFailed": 0,
    "PreconditionRequired": 0,
    "InvalidField": 1,
    "AuthRequired": 0,
    "Superseded": 0,  # incidents.interop.cap: a CAP message of an earlier version (410)  # incidents.intake.openrosa: the ODK login's 401
    "RowError": 1,
    "ImportFormatError": 1,
    "SubscriptionError": 1,
    "TransitionError": 1,
    "GeometryError": 1,
    "ChannelError": 1,
    "LocationParseError": 1,
    # Litestar's, raised by the API's guards and middleware, and the API's own problems.
    "NotAuthorizedException": 0,
    "PermissionDeniedException": 0,
    "HTTPException": 0,
    "ValidationException": 0,
    "problem": 1,
    "_send_problem": 4,  # (scope, send, status, title, detail, ...): the edge middleware's
    # requires(..., hint="...") is the refusal message of a guard.
    "requires": 99,
}
# Errors that compose their own message in __init__ (super().__init__(f"...")).
SELF_COMPOSED = {*MESSAGE_ARG, "UnknownPlaceError", "UnknownCodeError"}
_KEYWORDS = {"LocationParseError": {"reason"}, "requires": {"hint"}}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Raised:
    path: str
    line: int
    template: str  # the message, each interpolated expression as {name}
    sample: str  # the message as raised with made-up values

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.template!r}"


def _placeholder(expr: ast.expr, used: dict[str, int]) -> str:
    names = [n for n in _NAME.findall(ast.unparse(expr)) if n not in {"if", "else", "len"}]
    name = names[-1] if names else "value"
    used[name] = used.get(name, 0) + 1
    return name if used[name] == 1 else f"{name}{used[name]}"


def _render(
    node: ast.expr | None, used: dict[str, int], constants: dict[str, str] | None = None
) -> tuple[str, str] | None:
    """(template, sample) of a message expression, or None when it is not literal text.

    `constants`: the module's own text constants (`SWAPPED_HINT = "..."`), which a raise may
    name, or fill in with `NOT_FOUND.format(id=...)`."""
    constants = constants or {}
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value, node.value
    if isinstance(node, ast.Name) and node.id in constants:
        return constants[node.id], constants[node.id]
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "format"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id in constants
    ):
        template = constants[node.func.value.id]
        return template, re.sub(r"\{(\w+)\}", lambda m: f"X{len(m.group(1))}", template)
    if isinstance(node, ast.JoinedStr):
        template, sample = [], []
        for part in node.values:
            if isinstance(part, ast.Constant):
                template.append(str(part.value))
                sample.append(str(part.value))
            elif (
                isinstance(part, ast.FormattedValue)
                and isinstance(part.value, ast.Name)
                and part.value.id in constants
            ):
                template.append(constants[part.value.id])  # a module constant: its text
                sample.append(constants[part.value.id])
            elif isinstance(part, ast.FormattedValue):
                name = _placeholder(part.value, used)
                template.append("{" + name + "}")
                sample.append(f"X{sum(used.values())}")
        return "".join(template), "".join(sample)
    if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or):
        return _render(node.values[-1], used, constants)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _render(node.left, used, constants), _render(node.right, used, constants)
        if left is not None and right is not None:
            return left[0] + right[0], left[1] + right[1]
    return None


def _call_name(call: ast.Call) -> str | None:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    return func.attr if isinstance(func, ast.Attribute) else None


def raised_messages() -> list[Raised]:
    found: list[Raised] = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            rel = str(path.relative_to(ROOT))
            constants: dict[str, str] = {}
            for statement in tree.body:
                if (
                    isinstance(statement, ast.Assign)
                    and len(statement.targets) == 1
                    and isinstance(statement.targets[0], ast.Name)
                    and statement.targets[0].id.isupper()
                ):
                    text = _render(statement.value, {})
                    if text is not None and text[0] == text[1]:
                        constants[statement.targets[0].id] = text[0]
            for cls in ast.walk(tree):
                if isinstance(cls, ast.ClassDef) and cls.name in SELF_COMPOSED:
                    for call in ast.walk(cls):
                        if (
                            isinstance(call, ast.Call)
                            and isinstance(call.func, ast.Attribute)
                            and call.func.attr == "__init__"
                            and call.args
                        ):
                            out = _render(call.args[0], {})
                            if out is not None and "{" in out[0]:
                                found.append(Raised(rel, call.lineno, *out))
            if rel == "api/http/errors.py":  # the problem handler's own texts
                for assign in ast.walk(tree):
                    if (
                        isinstance(assign, ast.Assign)
                        and isinstance(assign.targets[0], ast.Name)
                        and assign.targets[0].id == "detail"
                    ):
                        out = _render(assign.value, {})
                        if out is not None:
                            found.append(Raised(rel, assign.lineno, *out))
            for call in ast.walk(tree):
                if not isinstance(call, ast.Call):
                    continue
                name = _call_name(call)
                if name not in MESSAGE_ARG:
                    continue
                index = MESSAGE_ARG[name]
                node: ast.expr | None = call.args[index] if len(call.args) > index else None
                for keyword in call.keywords:
                    if keyword.arg in _KEYWORDS.get(name, {"detail", "message"}):
                        node = keyword.value
                out = _render(node, {}, constants)
                if out is not None:
                    found.append(Raised(rel, call.lineno, *out))
    return found


if __name__ == "__main__":  # python -m tests.unit.raised_messages: what errors.po still lacks
    from babel.messages.pofile import read_po

    po = ROOT / "incidents/vocabulary/locale/fr/LC_MESSAGES/errors.po"
    with po.open("rb") as fh:
        known = {m.id for m in read_po(fh) if m.id and m.string}
    for raised in sorted({r.template: r for r in raised_messages()}.values(), key=str):
        if raised.template not in known:
            quoted = raised.template.replace("\\", "\\\\").replace('"', '\\"')
            print(f'#. {raised.path}:{raised.line}\nmsgid "{quoted}"\nmsgstr ""\n')
