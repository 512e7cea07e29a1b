"""Plain update expressions are applied directly, not through moto's syntax-tree machinery.

moto validates an UpdateExpression by copying its syntax tree (copy.deepcopy) and walking
the copy with ten processors, two of which search the whole tree again from every node, and
it parses the expression twice per item of a transaction. The ADE sync's upsert (twelve SET
actions, five of them `if_not_exists`, and a REMOVE; one per device, a hundred to a
TransactWriteItems) cost 45 ms of the emulator's CPU per item, against 1.2 ms for an
import's conditional put (cProfile: validation 66 %, the copy 20 %, parsing 14 %): at that
rate the emulator, not the sync, set a first sync's pace.

An expression made only of top-level attributes,

    SET a = :v, #b = if_not_exists(c, :w) ... REMOVE d, #e ...

(each clause once, in either order) is parsed once into a plan, beside moto's own tree (which
moto's request checks still read). It is applied directly only when every check moto's
validators make passes: each placeholder defined, no attribute named twice among the
actions, no key of the table changed, no reserved word used bare, and each value set on an
index's key attribute of its declared type and not empty, as moto compares them. Values
are moto's own (`DynamoType` of the request's value; an existing attribute for
`if_not_exists`, read from the item as it was before the update), set in the order moto's
executor sets them, through the item's size-checked attributes, so an oversized item fails as
in moto. Any other expression, and any that one of those checks refuses, goes through
moto's validators and executor unchanged, so its errors are moto's.
"""

from __future__ import annotations

import inspect
import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from ..moto_version import written_against

written_against(__name__, "5.2.5")

# Distinct expressions kept parsed: the product writes a handful of shapes.
KEPT = 512
PLAN = "_plain_update_plan"
# moto's item limit (LimitedSizeDict.__setitem__): between DynamoDB's measured 409 and 410 KB.
ITEM_LIMIT = 405000

_TOKEN = re.compile(
    r"\s*(?:(?P<word>[A-Za-z_][A-Za-z0-9_]*)|(?P<name>#[A-Za-z0-9_]+)|(?P<value>:[A-Za-z0-9_]+)|(?P<punct>[=,()]))"
)


@dataclass(frozen=True)
class Set:
    target: str  # as written: a bare name or a #placeholder
    value: str  # :placeholder
    if_not_exists: str | None = None  # the path read first, as written


@dataclass(frozen=True)
class Remove:
    target: str


Action = Set | Remove


def tokens(expression: str) -> list[tuple[str, str]] | None:
    out, pos = [], 0
    while pos < len(expression):
        if not expression[pos:].strip():
            break
        m = _TOKEN.match(expression, pos)
        if m is None:
            return None
        kind = m.lastgroup
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def plan_of(expression: str, reserved: frozenset[str]) -> tuple[Action, ...] | None:
    """The actions of a plain expression, in moto's order of execution; None for anything else."""
    toks = tokens(expression)
    if not toks:
        return None
    i, actions, seen = 0, [], set()

    def path() -> str | None:
        nonlocal i
        if i < len(toks) and toks[i][0] == "name":
            i += 1
            return toks[i - 1][1]
        if i < len(toks) and toks[i][0] == "word" and toks[i][1].upper() not in reserved:
            i += 1
            return toks[i - 1][1]
        return None

    def expect(kind: str, text: str | None = None) -> str | None:
        nonlocal i
        if i < len(toks) and toks[i][0] == kind and (text is None or toks[i][1] == text):
            i += 1
            return toks[i - 1][1]
        return None

    while i < len(toks):
        clause = expect("word")
        if clause not in ("SET", "REMOVE") or clause in seen:
            return None
        seen.add(clause)
        while True:
            target = path()
            if target is None:
                return None
            if clause == "REMOVE":
                actions.append(Remove(target))
            else:
                if expect("punct", "=") is None:
                    return None
                if expect("word", "if_not_exists") is not None:
                    if expect("punct", "(") is None:
                        return None
                    read = path()
                    if read is None or expect("punct", ",") is None:
                        return None
                    value = expect("value")
                    if value is None or expect("punct", ")") is None:
                        return None
                    actions.append(Set(target, value, read))
                else:
                    value = expect("value")
                    if value is None:
                        return None
                    actions.append(Set(target, value))
            if expect("punct", ",") is None:
                break
    return tuple(actions)


class Applied:
    """What validation hands the executor for a plain expression: the values to set, in order."""

    def __init__(self, steps: list[tuple[str, Any]]):
        self.steps = steps

    def normalize(self) -> None:
        pass


def apply() -> None:
    from moto.dynamodb import models
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict
    from moto.dynamodb.models.utilities import bytesize
    from moto.dynamodb.parsing.executors import UpdateExpressionExecutor
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser
    from moto.dynamodb.parsing.reserved_keywords import ReservedKeywords
    from moto.dynamodb.parsing.validators import UpdateExpressionValidator

    # LimitedSizeDict's own limit, read from its code so a moto that changes it is noticed.
    if "405000" not in inspect.getsource(LimitedSizeDict.__setitem__):
        raise RuntimeError("moto's item size limit is no longer 405000: update speed.update_expressions")
    reserved = frozenset(k.upper() for k in ReservedKeywords.get_reserved_keywords())
    make = UpdateExpressionParser.make
    kept: OrderedDict[str, Any] = OrderedDict()

    def make_once(cls: Any, expression: str) -> Any:
        # moto's validator works on a copy of the tree and its request checks only read it,
        # so one tree serves every request. A refused expression raises each time.
        tree = kept.get(expression)
        if tree is None:
            tree = make(expression)
            try:
                setattr(tree, PLAN, plan_of(expression, reserved))
            except AttributeError:
                return tree
            kept[expression] = tree
            if len(kept) > KEPT:
                kept.popitem(last=False)
        else:
            kept.move_to_end(expression)
        return tree

    def name_of(target: str, names: dict[str, str]) -> str | None:
        return names.get(target) if target.startswith("#") else target

    class PlainValidator(UpdateExpressionValidator):
        def __init__(self, expression: Any, expression_attribute_names: Any, expression_attribute_values: Any,
                     item: Any, table: Any) -> None:
            self.args = (expression, expression_attribute_names, expression_attribute_values, item, table)
            self.plan = getattr(expression, PLAN, None)
            if self.plan is None:
                super().__init__(*self.args)

        def validate(self) -> Any:
            steps = self.plain_steps() if self.plan is not None else None
            if steps is None:
                if self.plan is not None:
                    self.plan = None
                    super().__init__(*self.args)
                return super().validate()
            return Applied(steps)

        def plain_steps(self) -> list[tuple[str, Any]] | None:
            """The attributes to set (a DynamoType) or remove (None), in order; None
            whenever moto's validators could refuse the expression."""
            _, names, values, item, table = self.args
            names, values = names or {}, values or {}
            targets = []
            for action in self.plan:
                target = name_of(action.target, names)
                if target is None or target in table.table_key_attrs:
                    return None
                targets.append(target)
            if len(set(targets)) != len(targets):
                return None
            steps = []
            declared = {d["AttributeName"]: d["AttributeType"] for d in table.attr}
            index_keys = table.attribute_keys
            for action, target in zip(self.plan, targets):
                if isinstance(action, Remove):
                    steps.append((target, None))
                    continue
                if action.value not in values:
                    return None
                value = None
                if action.if_not_exists is not None:
                    read = name_of(action.if_not_exists, names)
                    if read is None:
                        return None
                    value = item.attrs.get(read)
                if value is None:
                    value = DynamoType(values[action.value])
                # moto compares the target as written (a placeholder is never an attribute's name).
                if action.target in declared and declared[action.target] != value.type:
                    return None
                if action.target in index_keys and value.type in ("S", "B") and not value.value:
                    return None
                steps.append((target, value))
            return steps

    class PlainExecutor(UpdateExpressionExecutor):
        def execute(self, node: Any = None) -> None:
            if not isinstance(self.update_ast, Applied):
                return super().execute(node)
            # The item's attributes check its size on every set by summing all of them; the
            # same sum is kept here as it changes, and the same limit raises the same error.
            attrs = self.item.attrs
            size = sum(bytesize(k) + v.size() for k, v in attrs.items())
            for target, value in self.update_ast.steps:
                old = attrs.get(target)
                if value is None:
                    if old is not None:
                        del attrs[target]
                        size -= bytesize(target) + old.size()
                    continue
                if size + bytesize(target) + value.size() > ITEM_LIMIT:
                    raise ItemSizeTooLarge
                dict.__setitem__(attrs, target, value)
                size += bytesize(target) + value.size() - (bytesize(target) + old.size() if old is not None else 0)

    UpdateExpressionParser.make = classmethod(make_once)
    models.UpdateExpressionValidator = PlainValidator
    models.UpdateExpressionExecutor = PlainExecutor
