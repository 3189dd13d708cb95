"""Explain: LeNet's shapes layer by layer, the size formula to play with, and what the
convolutions see in your drawing."""
import numpy as np
import streamlit as st
import torch

from lenet.classroom.serving import pages_first
from lenet.data import normalise, sample_digits
from lenet.inside.introspect import (
    describe,
    feature_maps,
    flatten_size,
    has_feature_maps,
    layer_table,
    lenet_walk,
    sides,
)
from lenet.predict import classify
from lenet.shapes import output_size, size_formula
from ui import charts, lesson, router
from ui.doubt import doubt_view
from ui.drawing import enlarge
from ui.fool import attack_view, curves_view
from ui.i18n import text
from ui.inside import VIEWS, convolution_stepper, digit_map_view, feature_maps_view, softmax_view
from ui.models import LIVE, exported, saved_as, selected

router.enter()
t = text()
st.title(t("explain.title"))
model, choice = selected()
if model is None:
    st.warning(t("explain.no_model"))
    st.stop()

st.subheader(t("explain.layers", model=choice.model))
rows = layer_table(model)
shape = lambda s: " × ".join(map(str, s))  # noqa: E731
columns = [t("explain.col_layer"), t("explain.col_type"), t("explain.col_formula"), t("explain.col_shape"),
           t("explain.col_params")]
table = [dict(zip(columns, (r.name, r.kind, t.msg(r.formula) if r.formula else "—", shape(r.out_shape), r.params),
                  strict=True)) for r in rows]
table.append(dict(zip(columns, (t("explain.total"), "", "", "", sum(r.params for r in rows)), strict=True)))
st.table(table)  # plain HTML: readable on a projector, and it can be copied
if choice.key != LIVE:  # a saved model: its file can go home as plain PyTorch
    st.download_button(t("explain.download"), exported(choice),
                       file_name=f"{choice.name}-pytorch.zip", mime="application/zip", icon=":material/download:",
                       help=t("explain.download_help"))
about = describe(rows)
if choice.model == "design":  # a design from Build: its own walk is the table above, not LeNet-5's
    st.markdown(t("explain.design", walk=" → ".join(str(side) for side in sides(rows)) or "—"))
elif has_feature_maps(model):
    walk = " → ".join(str(side) for side in sides(rows))
    st.markdown(t("explain.walk", walk=walk, pool=t("explain.pool." + about["pool"]), activation=about["activation"]))
    st.markdown(t("explain.c5_conv" if about["c5"] == "conv" else "explain.c5_linear"))
else:
    st.markdown(t("explain.mlp"))

if not lesson.hidden("calculator"):
    st.subheader(t("explain.calculator"))
    a, b, c, d = st.columns(4)
    n = a.slider(t("explain.n"), 1, 64, 32, key="calc_n")
    f = b.slider(t("explain.f"), 1, 11, 5, key="calc_f")
    p = c.slider(t("explain.p"), 0, 5, 0, key="calc_p")
    s = d.slider(t("explain.s"), 1, 4, 1, key="calc_s")
    size = output_size(n, f, p, s)
    st.markdown(f"### {t.msg(size_formula(n, f, p, s))}")
    if size < 1:
        st.error(t("explain.no_output"))
    elif size != int(size):
        st.warning(t("explain.not_whole", size=size, f=f, s=s, whole=int(size)))
    same = (f - 1) / 2
    st.caption(t("explain.padding", shrink=f - 1) + (t("explain.same_ok", same=same) if same == int(same) else
                                                     t("explain.same_impossible", same=same)))

if not lesson.hidden("flatten"):
    with st.expander(t("explain.flatten"), expanded=True):
        e, g = st.columns(2)
        side = e.slider(t("explain.image_side"), 8, 64, 28, help=t("explain.image_side_help"), key="flat_side")
        kernel = g.slider(t("explain.conv_kernel"), 1, 9, 5, key="flat_kernel")
        stages, flat = lenet_walk(side, kernel)
        own = flatten_size(rows) if choice.model != "design" else None  # a design isn't LeNet-5 with other sizes
        expected = own or lenet_walk()[1]  # what this LeNet's next layer takes; LeNet-5's for the MLP and designs
        st.table([{t("explain.col_stage"): name, t("explain.col_size"): t.msg(formula), t("explain.col_side"): out}
                  for name, formula, out in stages])
        if flat == expected:
            st.success(t("explain.flat_ok", expected=expected))
        elif flat == 0:
            st.error(t("explain.flat_vanished"))
        else:
            st.error(t("explain.flat_mismatch", side=stages[-1][2], flat=flat, expected=expected))


st.subheader(t("explain.inside"))
drawing = st.session_state.get("drawing")
sources = ["drawing", "mnist"] if drawing is not None else ["mnist"]
if st.session_state.get("explain_source") not in sources:
    st.session_state.pop("explain_source", None)
source = st.radio(t("explain.look_with"), sources, horizontal=True, key="explain_source",
                  format_func=lambda v: t("explain.source." + v))
if source == "drawing":
    st.caption(t("explain.your_drawing"))
    image, x = drawing.centred, drawing.tensor
else:
    digits, labels = sample_digits()
    index = st.number_input(t("explain.digit_number"), 0, len(digits) - 1, lesson.digit(), help=t("explain.digit_help"),
                            key="explain_digit")
    image, x = digits[index], normalise(torch.from_numpy(digits[index:index + 1]))
left, right = st.columns([1, 3])
left.image(enlarge(image, 168), caption=t("explain.input_caption"))
answer = classify(model, x)
right.metric(t("draw.prediction"), str(answer.digit))
right.caption(t("explain.sure", p=answer.confidence, model=choice.label(t)))



@st.fragment  # switching views reruns only this part: the tables above stay as they are
def look_inside(model, choice, x: torch.Tensor, predicted: int, about: dict[str, str]) -> None:
    views = [v for v in VIEWS if not lesson.hidden(v)]  # feature maps, a convolution step by step, scores, the map
    if not has_feature_maps(model):  # the MLP, or a design without a conv → pool → conv → pool start
        st.info(t("explain.design_no_maps" if choice.model == "design" else "explain.mlp_no_maps"))
        views = [v for v in views if v in ("softmax", "map", "fool", "doubt")]
    if not views:
        return
    if st.session_state.get("explain_view") not in views:  # e.g. an MLP picked while on the stepper
        st.session_state["explain_view"] = lesson.view() if lesson.view() in views else views[0]
    view = st.radio(t("explain.show"), views, horizontal=True, key="explain_view",
                    format_func=lambda v: t("explain.view." + v))
    if view == "maps":
        feature_maps_view(t, model, x, about)
    elif view == "stepper":
        with pages_first():
            maps = feature_maps(model, x)
        convolution_stepper(t, model, x, maps)
    elif view == "softmax":
        softmax_view(t, model, x, predicted)
    elif view == "fool":
        attack_view(t, model, x, key="explain_fool")
        curves_view(t, choice)
    elif view == "doubt":
        doubt_view(t, model, choice, x)
    else:
        digit_map_view(t, model, saved_as(choice), x, predicted)


look_inside(model, choice, x, answer.digit, about)
if not lesson.hidden("numbers") and st.toggle(t("explain.numbers"), key="explain_numbers"):
    st.plotly_chart(charts.pixel_values(t, np.asarray(image)), width="stretch")  # on demand: 784 numbers are slow
