"""The Build page's controls: a design as menus, one block per convolution (with the pooling
after it) and one per fully connected layer, plus the activation.

Every widget keeps its value in st.session_state["build.<name>"], so a preset or a typed design
sets them all at once (in a callback, before the widgets are drawn). The menus can show designs
of the form (convolution [pooling])… then fully connected layers; any other design can still be
typed, and is shown as text alone.
"""
from __future__ import annotations

from typing import Any

import streamlit as st

from lenet.designs import ACTIVATIONS, LIMITS, PRESETS, Conv, Dense, DesignError, Layer, Pool, parse, text_of
from lenet.shapes import LayerRow
from ui.i18n import Text

KEY = "build.{}"
POOL_CHOICES = ("none", "max", "avg")
DEFAULTS = {"channels": 16, "kernel": 5, "padding": 0, "stride": 1, "pool": "max", "pool_size": 2}  # a new block


def _set(name: str, value: Any) -> None:
    st.session_state[KEY.format(name)] = value


def _get(name: str, default: Any = None) -> Any:
    return st.session_state.get(KEY.format(name), default)


def _key(name: str, default: Any) -> str:
    """The widget's key, its value set first if it has none: a widget is drawn from session_state
    alone (given a value too, Streamlit warns on the page that it got two)."""
    st.session_state.setdefault(KEY.format(name), default)
    return KEY.format(name)


def blocks_of(layers: tuple[Layer, ...]) -> tuple[list[tuple[Conv, Pool | None]], list[Dense]] | None:
    """The design as the menus show it: conv blocks (each with its pooling, or none) and fully
    connected layers; None for a design the menus can't show (pooling before any convolution, two
    poolings in a row)."""
    convs: list[tuple[Conv, Pool | None]] = []
    dense = [x for x in layers if isinstance(x, Dense)]
    for layer in layers[:len(layers) - len(dense)]:
        if isinstance(layer, Conv):
            convs.append((layer, None))
        elif isinstance(layer, Pool) and convs and convs[-1][1] is None:
            convs[-1] = (convs[-1][0], layer)
        else:
            return None
    return convs, dense


def load(spec: str, activation: str | None = None) -> None:
    """Put a design into the widgets (for a callback: before they are drawn). One that can't be
    read, or that the menus can't show, is kept as typed text alone."""
    _set("text", spec)
    if activation is not None:
        _set("activation", activation)
    try:
        shown = blocks_of(parse(spec))
    except DesignError:
        shown = None
    _set("typed_only", shown is None)
    if shown is None:
        return
    convs, dense = shown
    _set("convs", len(convs))
    for i, (conv, pool) in enumerate(convs, 1):
        for part in ("channels", "kernel", "padding", "stride"):
            _set(f"conv{i}.{part}", getattr(conv, part))
        _set(f"conv{i}.pool", pool.kind if pool else "none")
        _set(f"conv{i}.pool_size", pool.size if pool else DEFAULTS["pool_size"])
    _set("fcs", len(dense))
    for i, layer in enumerate(dense, 1):
        _set(f"fc{i}.units", layer.units)


def _preset_chosen() -> None:
    load(*PRESETS[_get("preset")])


def _typed() -> None:
    load(_get("typed", "").strip())


def preset_menu(t: Text) -> None:
    """The presets; the first visit starts from LeNet-5."""
    if _get("text") is None:
        load(*PRESETS["lenet5"])
    st.selectbox(t("build.preset"), list(PRESETS), key=_key("preset", "lenet5"), on_change=_preset_chosen,
                 format_func=lambda name: t(f"build.presets.{name}"))


def _number(label: str, name: str, limits: str, default: int) -> int:
    low, high = LIMITS[limits]
    return st.number_input(label, low, high, step=1, key=_key(name, default))


def conv_block(t: Text, i: int) -> tuple[Conv, Pool | None]:
    """One convolution and the pooling after it, in a row of menus."""
    cells = st.columns(6)
    with cells[0]:
        channels = _number(t("build.channels", i=i), f"conv{i}.channels", "channels", DEFAULTS["channels"])
    chosen = {}
    for cell, part in zip(cells[1:4], ("kernel", "padding", "stride"), strict=True):
        low, high = LIMITS[part]
        chosen[part] = cell.selectbox(t(f"build.{part}"), list(range(low, high + 1)),
                                      key=_key(f"conv{i}.{part}", DEFAULTS[part]))
    pool = cells[4].selectbox(t("build.pool"), POOL_CHOICES, key=_key(f"conv{i}.pool", DEFAULTS["pool"]),
                              format_func=lambda kind: t(f"build.pool_kind.{kind}"))
    low, high = LIMITS["pool"]
    size = cells[5].selectbox(t("build.pool_size"), list(range(low, high + 1)), disabled=pool == "none",
                              key=_key(f"conv{i}.pool_size", DEFAULTS["pool_size"]))
    return Conv(int(channels), **chosen), (None if pool == "none" else Pool(pool, size))


def design_controls(t: Text) -> tuple[str, str]:
    """Draw the menus; the design they describe (or the typed one they can't show) and its activation."""
    activation = st.selectbox(t("build.activation"), list(ACTIVATIONS), key=_key("activation", "relu"))
    st.text_input(t("build.typed"), key=_key("typed", ""), on_change=_typed, placeholder=_get("text"),
                  help=t("build.typed_help"))
    if _get("typed_only"):
        st.info(t("build.typed_only"))
        return _get("text"), activation
    layers: list[Layer] = []
    convs = st.number_input(t("build.convs"), 0, LIMITS["convs"], key=_key("convs", 2))
    for i in range(1, convs + 1):
        conv, pool = conv_block(t, i)
        layers += [conv] + ([pool] if pool else [])
    fcs = st.number_input(t("build.fcs"), 0, LIMITS["fcs"], key=_key("fcs", 2))
    cells = st.columns(max(fcs, 1))
    for i in range(1, fcs + 1):
        with cells[i - 1]:
            layers.append(Dense(int(_number(t("build.units", i=i), f"fc{i}.units", "units", 64))))
    return (text_of(tuple(layers)) if layers else ""), activation


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
