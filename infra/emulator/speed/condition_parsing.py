"""A condition expression is parsed once, not once per item and per step.

moto parses a write's ConditionExpression with its own lexer every time the
condition is checked, and a transaction checks each item's condition three
times (the request's validation, the transaction's check, the put's own): an
import's conditional device writes, a hundred to a TransactWriteItems, spent
61 % of the emulator's time parsing the same expression (cProfile, 3,000 rows:
6.2 s of CPU against 3.8 s for the same items unconditional in BatchWriteItem;
3.4 s with this fix). The tree an expression parses to depends on the
expression, its names and its values only, and evaluating it changes none of
its nodes, so the last few hundred parses are kept and handed out again, with
the names and values each found. An expression moto refuses raises each time,
as before: nothing is kept for it.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any

from ..moto_version import written_against

written_against(__name__, "5.2.5")

# Distinct (expression, names, values) kept: a write's values vary by request
# (a lease's owner and time), an import's conditions do not.
KEPT = 512


def apply() -> None:
    from moto.dynamodb.comparisons import ConditionExpressionParser

    parse = ConditionExpressionParser.parse
    kept: OrderedDict[tuple[str, str, str], tuple[Any, list[str], list[str]]] = OrderedDict()

    def key_of(parser: Any) -> tuple[str, str, str] | None:
        if not parser.condition_expression:
            return None
        try:
            return (
                parser.condition_expression,
                json.dumps(parser.expression_attribute_names, sort_keys=True),
                json.dumps(parser.expression_attribute_values, sort_keys=True),
            )
        except (TypeError, ValueError):
            return None

    def parse_once(self: Any) -> Any:
        key = key_of(self)
        if key is None:
            return parse(self)
        found = kept.get(key)
        if found is None:
            op = parse(self)
            found = (op, list(self.expr_attr_names_found), list(self.expr_attr_values_found))
            kept[key] = found
            if len(kept) > KEPT:
                kept.popitem(last=False)
            return op
        kept.move_to_end(key)
        op, names, values = found
        self.expr_attr_names_found.extend(names)
        self.expr_attr_values_found.extend(values)
        return op

    ConditionExpressionParser.parse = parse_once
