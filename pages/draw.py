"""Draw: a digit on the canvas (or an uploaded photo), what the model sees, and its answer."""
import streamlit as st
from streamlit_drawable_canvas import st_canvas

from lenet.jobs import serving
from lenet.predict import classify
from lenet.preprocess import naive_resize
from ui import charts, router
from ui.drawing import TOOLBAR_ABOVE_CANVAS, ImageError, NoDigitError, Sources, read_canvas, read_upload, strokes, tile
from ui.models import all_models, selected
from ui.why import why_this_answer

router.enter()
st.title("Draw")
st.session_state.setdefault("canvas_version", 0)
st.session_state.setdefault("sources", Sources())
# Coming back to this page mounts a new canvas: it starts from the strokes it last sent.
st.session_state["canvas_initial"] = st.session_state.get("canvas_json")
st.html(TOOLBAR_ABOVE_CANVAS, unsafe_allow_javascript=True)


def clear() -> None:
    st.session_state.canvas_version += 1
    for key in ("canvas_json", "canvas_initial", "canvas_drawing", "drawing"):
        st.session_state.pop(key, None)


@st.fragment  # a stroke reruns only this part of the page: the prediction comes back sooner
def draw_and_read() -> None:
    model, choice = selected()  # inside: the live model of a running job is fetched afresh each stroke
    if model is None:
        st.warning("No model to read with: the sidebar lists none. Train one on the Train page.")
        return
    answer = st.container()  # filled below, shown first: above the canvas on a phone
    pad, chart = st.columns([1, 1.2], gap="large")
    with pad:
        pen = st.slider("Pen width", 6, 40, 18)
        canvas = st_canvas(stroke_width=pen, stroke_color="#FFFFFF", background_color="#000000", width=280,
                           height=280, drawing_mode="freedraw", return_image_data=True,
                           initial_drawing=st.session_state.get("canvas_initial"),
                           key=f"canvas-{st.session_state.canvas_version}")
        if st.button("Clear", icon=":material/ink_eraser:"):
            clear()
            st.rerun(scope="fragment")
        upload = st.file_uploader("…or upload a photo or scan of one digit (PNG or JPEG, up to 10 MB)",
                                  type=["png", "jpg", "jpeg"])

    with serving():  # the trainer waits while this drawing is read
        drawing, raw, source, problem = read_input(canvas, upload)
        with answer:
            show_answer(model, choice, drawing, source, problem, chart)
        if drawing is not None:
            show_steps(model, drawing, raw)
    if drawing is not None and st.toggle("Why this answer? Which pixels it rests on, and what moves it",
                                         key="why_toggle"):
        why_this_answer(model, drawing)


def read_input(canvas, upload):
    """(drawing, the canvas's RGBA or None, where it came from in words, a problem to show)."""
    n = strokes(canvas.json_data)
    if n:
        st.session_state["canvas_json"] = canvas.json_data
    latest = st.session_state.sources.update(n, upload.file_id if upload is not None else None)
    if latest == "upload":
        try:
            drawing = read_upload(upload.getvalue())
        except (ImageError, NoDigitError) as err:
            return None, None, None, f"Can't read {upload.name}: {err}"
        st.session_state["drawing"] = drawing  # the Explain page shows this drawing's feature maps
        return drawing, None, f"your upload, {upload.name}. Draw on the canvas to read a drawing instead", None
    raw = canvas.image_data
    drawing = read_canvas(raw) if raw is not None else st.session_state.get("canvas_drawing") if n else None
    if drawing is None:
        return None, None, None, None
    st.session_state["canvas_drawing"] = st.session_state["drawing"] = drawing
    return drawing, raw, "your drawing" + (". Upload a picture to read it instead" if upload is None else ""), None


def show_answer(model, choice, drawing, source, problem, chart) -> None:
    if problem:
        st.error(problem)
    if drawing is None:
        # The same two lines a prediction takes, so the canvas below never moves: it used to jump
        # down when the first prediction replaced a taller prompt, cutting the stroke being drawn.
        st.metric("Prediction", "–")
        st.caption("Draw a digit on the black canvas, or upload a picture of one, and the prediction appears here.")
        # an empty chart now means the chart library is loaded before the first stroke
        chart.plotly_chart(charts.probabilities([0.0] * 10), width="stretch", config={"displayModeBar": False})
        return
    reading = classify(model, drawing)
    st.metric("Prediction", str(reading.digit))
    st.caption(f"**{reading.confidence:.1%}** sure · reading {source} · model: {choice.label}")
    chart.plotly_chart(charts.probabilities(reading.probs), width="stretch", config={"displayModeBar": False})


def show_steps(model, drawing, raw) -> None:
    st.subheader("What the model sees")
    st.caption("The way MNIST was made: crop to the ink, fit it into 20×20 keeping its shape, "
               "then place it in 28×28 so its centre of mass sits in the middle.")
    steps = [("your drawing (ink)", drawing.ink), ("cropped to the ink", drawing.cropped),
             ("fitted into 20×20", drawing.fitted), ("centred in 28×28", drawing.centred)]
    for column, (caption, image) in zip(st.columns(4), steps, strict=True):
        column.image(tile(image), caption=caption, width=160)

    if raw is not None and st.toggle("Compare with a naive resize of the whole canvas"):
        squeezed = naive_resize(raw)
        naive = classify(model, squeezed)
        left, right = st.columns([1, 3])
        left.image(tile(squeezed.centred), caption="whole canvas squeezed to 28×28", width=160)
        right.metric("Prediction without preprocessing", str(naive.digit))
        right.caption(f"{naive.confidence:.1%} sure. Small or off-centre drawings end up tiny or in a corner, "
                      "unlike anything in MNIST.")

    if st.toggle("All models side by side"):
        models = all_models()
        for row in range(0, len(models), 4):
            for column, (entry, other) in zip(st.columns(4), models[row:row + 4], strict=False):
                r = classify(other, drawing)
                column.metric(entry.label, str(r.digit))
                column.caption(f"{r.confidence:.0%} sure")


draw_and_read()
