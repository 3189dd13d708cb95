"""Explain: LeNet's shapes layer by layer, the size formula to play with, and what the
convolutions see in your drawing."""
import numpy as np
import streamlit as st
import torch

from lenet.data import normalise, sample_digits
from lenet.introspect import (
    describe,
    feature_maps,
    has_feature_maps,
    layer_table,
    lenet_walk,
    output_size,
    size_formula,
)
from lenet.jobs import serving
from lenet.predict import classify
from ui import charts, router
from ui.drawing import enlarge
from ui.inside import convolution_stepper, digit_map_view, feature_maps_view, softmax_view
from ui.models import saved_as, selected

router.enter()
st.title("Explain")
model, choice = selected()
if model is None:
    st.warning("No model to explain: the sidebar lists none. Train one on the Train page.")
    st.stop()

st.subheader(f"Layer by layer: {choice.model}")
rows = layer_table(model)
shape = lambda s: " × ".join(map(str, s))  # noqa: E731
table = [{"layer": r.name, "type": r.kind, "output size: (n + 2p − f)/s + 1": r.formula or "—",
          "output shape": shape(r.out_shape), "parameters": r.params} for r in rows]
table.append({"layer": "total", "type": "", "output size: (n + 2p − f)/s + 1": "", "output shape": "",
              "parameters": sum(r.params for r in rows)})
st.table(table)  # plain HTML: readable on a projector, and it can be copied
resizing = ("ConstantPad2d", "Conv2d", "MaxPool2d", "AvgPool2d")
sides = [rows[0].in_shape[-1]] + [r.out_shape[-1] for r in rows if r.kind in resizing]
about = describe(rows)
if has_feature_maps(model):
    walk = " → ".join(str(s) for s in sides[1:6])
    st.markdown(f"The image is padded from 28 to 32, then the maps shrink **{walk}**: each 5×5 convolution "
                f"takes 4 off the side, each 2×2 **{about['pool']} pooling** halves it, and **{about['activation']}** "
                "follows each pooling.")
    if about["c5"] == "conv":
        st.markdown("**C5 is a 5×5 convolution to 120 channels**, as in LeCun et al. (1998): on 5×5 maps a 5×5 "
                    "kernel fits exactly once, so the 16 maps of 5×5 become 120 maps of 1×1. Then F6 (120 → 84) and "
                    "the output layer (84 → 10).")
    else:
        st.markdown("16 maps of 5×5 flatten into 16·5·5 = 400 numbers for fc1 (400 → 120), then 120 → 84 → 10. "
                    "(LeCun's C5 was a 5×5 convolution to 120 channels; on 5×5 maps that is the same function.)")
else:
    st.markdown("The MLP has no convolutions: it flattens the 28×28 image into 784 numbers, then 250 → 200 → 10.")

st.subheader("Output-size calculator")
a, b, c, d = st.columns(4)
n = a.slider("input side n", 1, 64, 32)
f = b.slider("kernel f", 1, 11, 5)
p = c.slider("padding p", 0, 5, 0)
s = d.slider("stride s", 1, 4, 1)
size = output_size(n, f, p, s)
st.markdown(f"### {size_formula(n, f, p, s)}")
if size < 1:
    st.error("The window is bigger than the padded input: there is no output at all.")
elif size != int(size):
    st.warning(f"{size:.2f} is not a whole number: the {f}×{f} window, stepping {s} at a time, doesn't land exactly "
               f"on the last column. PyTorch drops what is left over, so the output is {int(size)} wide.")
same = (f - 1) / 2
st.caption(f"**Valid** padding (p = 0) lets the output shrink by f − 1 = {f - 1}. **Same** padding keeps the size at "
           "stride 1 with p = (f − 1)/2" + (f" = {same:g} here." if same == int(same) else
                                            f" = {same:g} here, which is impossible: an even kernel can't be centred."))

with st.expander("What breaks LeNet's 16·5·5 = 400 flatten?", expanded=True):
    e, g = st.columns(2)
    side = e.slider("image side", 8, 64, 28, help="MNIST digits are 28×28")
    kernel = g.slider("conv kernel", 1, 9, 5)
    stages, flat = lenet_walk(side, kernel)
    st.table([{"stage": name, "size": formula, "side": out} for name, formula, out in stages])
    if flat == 400:
        st.success("16 maps × 5 × 5 = 400: exactly what fc1 (400 → 120) expects.")
    elif flat == 0:
        st.error("The maps shrink to nothing before pool2: this network can't even run.")
    else:
        st.error(f"16 maps × {stages[-1][2]} × {stages[-1][2]} = {flat}, but fc1 expects 400 inputs: "
                 "PyTorch stops with a shape-mismatch error. Change fc1, or pad and resize the input.")


st.subheader("Inside the network")
drawing = st.session_state.get("drawing")
sources = ["your drawing", "an MNIST test digit"] if drawing is not None else ["an MNIST test digit"]
source = st.radio("Look inside with", sources, horizontal=True, key="explain_source")
if source == "your drawing":
    st.caption("Your drawing from the Draw page.")
    image, x = drawing.centred, drawing.tensor
else:
    digits, labels = sample_digits()
    index = st.number_input("MNIST test digit number", 0, len(digits) - 1, 0,
                            help="The first 100 digits of MNIST's test set")
    image, x = digits[index], normalise(torch.from_numpy(digits[index:index + 1]))
left, right = st.columns([1, 3])
left.image(enlarge(image, 168), caption="the 28×28 input")
answer = classify(model, x)
right.metric("Prediction", str(answer.digit))
right.caption(f"{answer.confidence:.1%} sure, with {choice.label}")


@st.fragment  # switching views reruns only this part: the tables above stay as they are
def look_inside(model, choice, x: torch.Tensor, predicted: int, about: dict[str, str]) -> None:
    views = ["Feature maps and filters", "Step through a convolution", "Scores to probabilities", "The digits as a map"]
    if not has_feature_maps(model):
        st.info("An MLP has no convolution layers, so there are no feature maps, filters or convolutions to step "
                "through: every one of its 250 first-layer units looks at all 784 pixels at once, with no notion of "
                "neighbouring pixels.")
        views = views[2:]
    if st.session_state.get("explain_view") not in views:  # e.g. an MLP picked while on the stepper
        st.session_state.pop("explain_view", None)
    view = st.radio("Show", views, horizontal=True, key="explain_view")
    if view == "Feature maps and filters":
        feature_maps_view(model, x, about)
    elif view == "Step through a convolution":
        with serving():
            maps = feature_maps(model, x)
        convolution_stepper(model, x, maps)
    elif view == "Scores to probabilities":
        softmax_view(model, x, predicted)
    else:
        digit_map_view(model, saved_as(choice), x, predicted)


look_inside(model, choice, x, answer.digit, about)
if st.toggle("Show the input as numbers", key="explain_numbers"):  # on demand: 784 numbers are slow to draw
    st.plotly_chart(charts.pixel_values(np.asarray(image)), width="stretch")
