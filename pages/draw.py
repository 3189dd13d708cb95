"""Draw: a digit on the canvas (or an uploaded photo), what the model sees, and its answer."""
import streamlit as st
from streamlit_drawable_canvas import st_canvas

from lenet.predict import classify
from lenet.preprocess import naive_resize
from ui import charts, router
from ui.drawing import ImageError, NoDigitError, enlarge, read_canvas, read_upload
from ui.models import all_models, selected

router.enter()
st.title("Draw")
st.session_state.setdefault("canvas_version", 0)


@st.fragment  # a stroke reruns only this part of the page: the prediction comes back sooner
def draw_and_read() -> None:
    model, choice = selected()  # inside: the live model of a running job is fetched afresh each stroke
    if model is None:
        st.warning("Pick a model in the sidebar first.")
        return
    pad, answer = st.columns([1, 1.2], gap="large")
    with pad:
        pen = st.slider("Pen width", 6, 40, 18)
        canvas = st_canvas(stroke_width=pen, stroke_color="#FFFFFF", background_color="#000000", width=280,
                           height=280, drawing_mode="freedraw", return_image_data=True,
                           key=f"canvas-{st.session_state.canvas_version}")
        if st.button("Clear", icon=":material/ink_eraser:"):
            st.session_state.canvas_version += 1
            st.session_state.pop("drawing", None)
            st.rerun(scope="fragment")
        upload = st.file_uploader("…or upload a photo or scan of one digit (PNG or JPEG, up to 10 MB)",
                                  type=["png", "jpg", "jpeg"])

    drawing, raw, problem = None, None, None
    if upload is not None:
        try:
            drawing = read_upload(upload.getvalue())
        except (ImageError, NoDigitError) as err:
            problem = f"Can't read {upload.name}: {err}"
    else:
        raw = canvas.image_data
        drawing = read_canvas(raw)
    if drawing is not None:
        st.session_state["drawing"] = drawing  # the Explain page shows this drawing's feature maps

    with answer:
        if problem:
            st.error(problem)
        elif drawing is None:
            st.info("Draw a digit on the black canvas, or upload a picture of one, and the prediction appears here.")
            # an empty chart now means the chart library is loaded before the first stroke
            st.plotly_chart(charts.probabilities([0.0] * 10), width="stretch", config={"displayModeBar": False})
        else:
            reading = classify(model, drawing)
            st.metric("Prediction", str(reading.digit), f"{reading.confidence:.1%} sure", delta_color="off")
            st.plotly_chart(charts.probabilities(reading.probs), width="stretch", config={"displayModeBar": False})
            st.caption(f"Model: {choice.label}")

    if drawing is not None:
        st.subheader("What the model sees")
        st.caption("The way MNIST was made: crop to the ink, fit it into 20×20 keeping its shape, "
                   "then place it in 28×28 so its centre of mass sits in the middle.")
        steps = [("your drawing (ink)", drawing.ink), ("cropped to the ink", drawing.cropped),
                 ("fitted into 20×20", drawing.fitted), ("centred in 28×28", drawing.centred)]
        for column, (caption, image) in zip(st.columns(4), steps, strict=True):
            shown = enlarge(image, 160) if max(image.shape) <= 160 else image
            column.image(shown, caption=caption, clamp=True, width=160)

        if raw is not None and st.toggle("Compare with a naive resize of the whole canvas"):
            squeezed = naive_resize(raw)
            naive_reading = classify(model, squeezed)
            left, right = st.columns([1, 3])
            left.image(enlarge(squeezed.centred, 160), caption="whole canvas squeezed to 28×28", width=160)
            right.metric("Prediction without preprocessing", str(naive_reading.digit),
                         f"{naive_reading.confidence:.1%} sure", delta_color="off")
            right.caption("Small or off-centre drawings end up tiny or in a corner, unlike anything in MNIST.")

        if st.toggle("All models side by side"):
            models = all_models()
            for row in range(0, len(models), 4):
                for column, (entry, other) in zip(st.columns(4), models[row:row + 4], strict=False):
                    r = classify(other, drawing)
                    column.metric(entry.label, str(r.digit), f"{r.confidence:.0%} sure", delta_color="off")


draw_and_read()
