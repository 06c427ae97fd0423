"""A signal model's validation compiled into plain Python, for records that decoded.

The router validates every signal it reads through its pydantic model
(:func:`hub.validation.validated_signal`). For a record as fastavro decodes it (every
value already of its schema's type) most of that cost is pydantic calling the models'
own Python validators (:mod:`hub.values`) one by one. :func:`compile_validator` reads a
model's fields once (type, constraints, before and after validators) and returns a
function that runs the same validators directly and builds the same dict.

It is exact or it gives up: any value whose type is not exactly the field's type (a
``str`` subclass, a ``bool`` for an ``int``, a ``datetime`` for a ``date``), a value a
constraint or validator refuses, a missing or unknown field raises :class:`Unsure`, and
the caller validates that record with pydantic (which gives the error message, or
accepts what the compiled check did not dare to). A model with anything the compiler
does not know (model or field validators, other constraints or config options) gets no
compiled validator at all (``None``). ``tests/test_fast_validation.py`` compares both on
valid and broken signals.
"""

from __future__ import annotations

import enum
import inspect
import types
import typing
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import annotated_types
from pydantic import AfterValidator, BaseModel, BeforeValidator, WithJsonSchema
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

__all__ = ["Unsure", "compile_validator"]

#: the model config keys whose values the compiled check reproduces (others: no compile)
_KNOWN_CONFIG: dict[str, set[Any]] = {"extra": {"forbid"}, "frozen": {True, False},
                                       "regex_engine": {"python-re", "rust-regex"}}


class Unsure(Exception):
    """The compiled check cannot vouch for this record: validate it with pydantic."""


class _Unsupported(Exception):
    """A field the compiler does not know (the model gets no compiled validator)."""


class _Info:
    """What a two-argument validator is given: pydantic's ``ValidationInfo`` without a
    context (the router validates without one) and without ``data`` (a validator that
    reads the other fields raises AttributeError here, so pydantic validates that
    record)."""

    __slots__ = ("config", "field_name")
    context = None
    mode = "python"

    def __init__(self, config: Any, field_name: str) -> None:
        self.config = config
        self.field_name = field_name


class _Code:
    """The source of one compiled validator, and the objects it names."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.names: dict[str, Any] = {"Unsure": Unsure}

    def name(self, obj: Any, hint: str) -> str:
        key = f"_{hint}{len(self.names)}"
        self.names[key] = obj
        return key

    def emit(self, indent: int, line: str) -> None:
        self.lines.append("    " * indent + line)


def _wants_info(func: Callable[..., Any]) -> bool:
    params = [p for p in inspect.signature(func).parameters.values()
              if p.default is inspect.Parameter.empty]
    if len(params) not in (1, 2):
        raise _Unsupported(f"validator {func!r} takes {len(params)} arguments")
    return len(params) == 2


def _call(code: _Code, func: Callable[..., Any], info: _Info, indent: int) -> None:
    fn = code.name(func, "check")
    if _wants_info(func):
        code.emit(indent, f"v = {fn}(v, {code.name(info, 'info')})")
    else:
        code.emit(indent, f"v = {fn}(v)")


def _core(code: _Code, base: Any, indent: int, var: str = "v") -> None:
    """Code checking ``var`` is exactly of the field type (an enum: becomes its member)."""
    if base in (str, int, bool, date, datetime):
        code.emit(indent, f"if type({var}) is not {code.name(base, 'type')}: raise Unsure")
        return
    if isinstance(base, type) and issubclass(base, enum.Enum):
        cls, members = code.name(base, "enum"), code.name(dict(base._value2member_map_), "of")
        code.emit(indent, f"if type({var}) is not {cls}:")
        code.emit(indent + 1, f"if type({var}) is not str: raise Unsure")
        code.emit(indent + 1, f"{var} = {members}.get({var})")
        code.emit(indent + 1, f"if {var} is None: raise Unsure")
        return
    if typing.get_origin(base) is list:
        (item_type,) = typing.get_args(base)
        code.emit(indent, f"if type({var}) is not list: raise Unsure")
        code.emit(indent, "items = []")
        code.emit(indent, f"for item in {var}:")
        _core(code, item_type, indent + 1, "item")
        code.emit(indent + 1, "items.append(item)")
        code.emit(indent, f"{var} = items")
        return
    raise _Unsupported(f"type {base!r}")


def _constraint(code: _Code, meta: Any, indent: int) -> None:
    if isinstance(meta, annotated_types.MinLen):
        code.emit(indent, f"if len(v) < {int(meta.min_length)}: raise Unsure")
    elif isinstance(meta, annotated_types.MaxLen):
        code.emit(indent, f"if len(v) > {int(meta.max_length)}: raise Unsure")
    elif isinstance(meta, annotated_types.Ge):
        code.emit(indent, f"if not v >= {code.name(meta.ge, 'ge')}: raise Unsure")
    elif isinstance(meta, annotated_types.Le):
        code.emit(indent, f"if not v <= {code.name(meta.le, 'le')}: raise Unsure")
    else:
        raise _Unsupported(f"constraint {meta!r}")


def _field(code: _Code, base: Any, metadata: list[Any], info: _Info, indent: int) -> None:
    """``base`` with ``metadata`` in pydantic's order: the before validator (at most one,
    first), the type and its constraints, then the after validator (at most one, last)."""
    before: Callable[..., Any] | None = None
    after: Callable[..., Any] | None = None
    constraints: list[Any] = []
    for meta in metadata:
        if isinstance(meta, WithJsonSchema):
            continue
        if isinstance(meta, BeforeValidator):
            if before is not None or after is not None or constraints:
                raise _Unsupported("a before validator that is not the first")
            before = meta.func
        elif isinstance(meta, AfterValidator):
            if after is not None:
                raise _Unsupported("two after validators")
            after = meta.func
        elif after is not None:
            raise _Unsupported("a constraint after an after validator")
        else:
            constraints.append(meta)
    if before is not None:
        _call(code, before, info, indent)
    _core(code, base, indent)
    for meta in constraints:
        _constraint(code, meta, indent)
    if after is not None:
        _call(code, after, info, indent)


def _annotated(code: _Code, annotation: Any, metadata: list[Any], info: _Info,
               indent: int) -> None:
    if typing.get_origin(annotation) is typing.Annotated:
        base, *inner = typing.get_args(annotation)
        expanded: list[Any] = []
        for meta in inner:  # a Field(...) inside: its constraints
            if isinstance(meta, FieldInfo):
                if meta.default is not PydanticUndefined or meta.alias is not None:
                    raise _Unsupported(f"field {meta!r} inside {annotation!r}")
                expanded.extend(meta.metadata)
            else:
                expanded.append(meta)
        _annotated(code, base, [*expanded, *metadata], info, indent)
        return
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(annotation)
        if len(args) != 2 or type(None) not in args or metadata:
            raise _Unsupported(f"union {annotation!r}")
        code.emit(indent, "if v is not None:")
        _annotated(code, next(a for a in args if a is not type(None)), [], info, indent + 1)
        return
    _field(code, annotation, metadata, info, indent)


def compile_validator(model: type[BaseModel]) -> Callable[[dict[str, Any]], dict[str, Any]] | None:
    """A function from a record to ``dict(model.model_validate(record).__dict__)``
    that raises :class:`Unsure` where it cannot be sure; ``None`` when the model has
    something the compiler does not know."""
    decorators = model.__pydantic_decorators__
    if (decorators.validators or decorators.field_validators or decorators.root_validators
            or decorators.model_validators):
        return None
    config = model.model_config
    if any(key not in _KNOWN_CONFIG or value not in _KNOWN_CONFIG[key]
           for key, value in config.items()) or config.get("extra") != "forbid":
        return None
    code = _Code()
    names = code.name(frozenset(model.model_fields), "fields")
    code.emit(0, "def validate(record):")
    code.emit(1, f"if not {names}.issuperset(record): raise Unsure  # an unknown field")
    code.emit(1, "get = record.get")
    code.emit(1, "data = {}")
    code.emit(1, "try:")
    try:
        for name, spec in model.model_fields.items():
            if (spec.alias not in (None, name) or spec.default_factory is not None
                    or spec.default not in (PydanticUndefined, None)):
                return None  # (a default other than None pydantic would copy)
            key = repr(name)
            if spec.default is PydanticUndefined:
                code.emit(2, f"v = get({key}, Unsure)")
                code.emit(2, "if v is Unsure: raise Unsure  # missing")
            else:  # pydantic does not validate a default
                code.emit(2, f"v = get({key})")
            _annotated(code, spec.annotation, list(spec.metadata), _Info(config, name), 2)
            code.emit(2, f"data[{key}] = v")
    except _Unsupported:
        return None
    code.emit(1, "except Unsure:")
    code.emit(2, "raise")
    code.emit(1, "except Exception:  # a validator refused it: pydantic words the error")
    code.emit(2, "raise Unsure from None")
    code.emit(1, "return data")
    namespace = dict(code.names)
    source = "\n".join(code.lines)
    exec(compile(source, f"<compiled validation of {model.__name__}>", "exec"),  # noqa: S102
         namespace)  # (our own generated source)
    validate: Callable[[dict[str, Any]], dict[str, Any]] = namespace["validate"]
    validate.__doc__ = f"{model.__name__}'s validation, compiled:\n\n{source}"
    return validate
