"""A model's layer table as Explain and Build show it: each layer's type, (n + 2p − f)/s + 1 filled
in, output shape and parameters (and, on Build, its multiply-adds), with the total."""
from __future__ import annotations

from typing import Any

from lenet.shapes import LayerRow
from ui.common.i18n import Text

__all__ = ["table_rows"]


def table_rows(t: Text, rows: list[LayerRow], work: bool = False) -> list[dict[str, Any]]:
    """A layer table as Explain shows it (and, with `work`, each layer's multiply-adds), with its total."""
    shape = lambda s: " × ".join(map(str, s))  # noqa: E731
    columns = [t("explain.col_layer"), t("explain.col_type"), t("explain.col_formula"), t("explain.col_shape"),
               t("explain.col_params")] + ([t("build.col_work")] if work else [])
    table = [dict(zip(columns, (r.name, r.kind, t.msg(r.formula) if r.formula else "—", shape(r.out_shape), r.params,
                                *([r.multiply_adds] if work else [])), strict=True)) for r in rows]
    total = (t("explain.total"), "", "", "", sum(r.params for r in rows)) + (
        (sum(r.multiply_adds for r in rows),) if work else ())
    return table + [dict(zip(columns, total, strict=True))]
