"""The Build page's menus: a design as menus, one block per convolution (with the pooling
after it) and one per fully connected layer, plus the activation.

Every widget keeps its value in st.session_state["build.<name>"], so a preset or a typed design
sets them all at once (in a callback, before the widgets are drawn). The menus can show designs
of the form (convolution [pooling])… then fully connected layers; any other design can still be
typed, and is shown as text alone. A lesson link can open the page on its own design, and hide
any of the menus (ui/common/links.py's HIDEABLE["build"]): a hidden one keeps the value the link set.
The router keeps their values while another page is shown (ui/common/router.py's KEPT).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from lenet.designs import LIMITS, PRESETS, Conv, Dense, DesignError, Layer, Pool, parse, text_of
from lenet.models import ACTIVATIONS
from ui.common import lesson
from ui.common.i18n import Text

__all__ = ["KEY", "blocks_of", "design_controls", "load", "preset_menu"]

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


def _shown(control: str, name: str, default: Any, draw: Callable[[str], Any]) -> Any:
    """`draw(key)` the widget for `name`, unless the lesson link hid `control`: a hidden one is
    not drawn, and its value is the one already in session_state (the link's, a preset's)."""
    key = _key(name, default)
    return _get(name) if lesson.hidden(control) else draw(key)


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
    """The presets; the first visit starts from the lesson link's design, or else LeNet-5."""
    if _get("text") is None:
        spec, activation = PRESETS["lenet5"]
        load(lesson.design() or spec, lesson.current().recipe.get("activation") or activation)
    _shown("preset", "preset", "lenet5", lambda key: st.selectbox(
        t("build.preset"), list(PRESETS), key=key, on_change=_preset_chosen,
        format_func=lambda name: t(f"build.presets.{name}")))


def _number(label: str, limits: str) -> Callable[[str], int]:
    """A number box within the design's limits, to draw under a key."""
    low, high = LIMITS[limits]
    return lambda key: st.number_input(label, low, high, step=1, key=key)


def _menu(where: Any, label: str, choices: list[Any] | tuple[Any, ...], **options: Any) -> Callable[[str], Any]:
    """A select box in `where` (a column, or st itself), to draw under a key."""
    return lambda key: where.selectbox(label, choices, key=key, **options)


def _window(part: str) -> list[int]:
    low, high = LIMITS[part]
    return list(range(low, high + 1))


def conv_block(t: Text, i: int) -> tuple[Conv, Pool | None]:
    """One convolution and the pooling after it, in a row of menus (a hidden one leaves its cell empty,
    so the blocks' menus stay in line)."""
    cells = st.columns(6)
    with cells[0]:
        channels = _shown("channels", f"conv{i}.channels", DEFAULTS["channels"],
                          _number(t("build.channels", i=i), "channels"))
    chosen = {part: _shown(part, f"conv{i}.{part}", DEFAULTS[part], _menu(cell, t(f"build.{part}"), _window(part)))
              for cell, part in zip(cells[1:4], ("kernel", "padding", "stride"), strict=True)}
    pool = _shown("pool", f"conv{i}.pool", DEFAULTS["pool"], _menu(
        cells[4], t("build.pool"), POOL_CHOICES, format_func=lambda kind: t(f"build.pool_kind.{kind}")))
    size = _shown("pool", f"conv{i}.pool_size", DEFAULTS["pool_size"],
                  _menu(cells[5], t("build.pool_size"), _window("pool"), disabled=pool == "none"))
    return Conv(int(channels), **chosen), (None if pool == "none" else Pool(kind=pool, size=size))


def design_controls(t: Text) -> tuple[str, str]:
    """Draw the menus the lesson left shown; the design they describe (or the typed one they can't
    show) and its activation."""
    activation = _shown("activation", "activation", "relu", _menu(st, t("build.activation"), list(ACTIVATIONS)))
    if not lesson.hidden("typed"):
        st.text_input(t("build.typed"), key=_key("typed", ""), on_change=_typed, placeholder=_get("text"),
                      help=t("build.typed_help"))
    if _get("typed_only"):
        st.info(t("build.typed_only"))
        return _get("text"), activation
    layers: list[Layer] = []
    convs = _shown("convs", "convs", 2, lambda key: st.number_input(t("build.convs"), 0, LIMITS["convs"], key=key))
    for i in range(1, convs + 1):
        conv, pool = conv_block(t, i)
        layers += [conv] + ([pool] if pool else [])
    fcs = _shown("fcs", "fcs", 2, lambda key: st.number_input(t("build.fcs"), 0, LIMITS["fcs"], key=key))
    cells = st.columns(max(fcs, 1))
    for i in range(1, fcs + 1):
        with cells[i - 1]:
            layers.append(Dense(int(_shown("units", f"fc{i}.units", 64, _number(t("build.units", i=i), "units")))))
    return (text_of(tuple(layers)) if layers else ""), activation
