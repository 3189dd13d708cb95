"""Draw: a digit on the canvas (or an uploaded photo), what the model sees, and its answer."""
import streamlit as st
from streamlit_drawable_canvas import st_canvas

from lenet.classroom.serving import pages_first
from lenet.ink import ImageError
from lenet.predict import classify
from lenet.preprocess import NoDigitError, naive_resize
from ui import charts, lesson, router
from ui.collect import confirm_or_correct
from ui.doubt import say_verdict, verdict, warm
from ui.drawing import TOOLBAR_ABOVE_CANVAS, Sources, read_canvas, read_upload, strokes, tile
from ui.fool import attack_view
from ui.i18n import text
from ui.models import all_models, selected
from ui.why import why_this_answer

router.enter()
t = text()
st.title(t("draw.title"))
st.session_state.setdefault("canvas_version", 0)
st.session_state.setdefault("sources", Sources())
# Coming back to this page mounts a new canvas: it starts from the strokes it last sent.
st.session_state["canvas_initial"] = st.session_state.get("canvas_json")
st.html(TOOLBAR_ABOVE_CANVAS, unsafe_allow_javascript=True)
PEN = 18  # the pen's width when the slider is hidden


def clear() -> None:
    # The canvas keeps its key: a new key made Streamlit keep the old canvas beside the new one
    # whenever the run that drew the new one was cut short (seen with one core busy). A changed
    # initial drawing empties the same canvas instead, and it sends back its empty picture; until
    # then it still reports the old strokes, which read_input() ignores.
    st.session_state.canvas_version += 1
    st.session_state["canvas_stale"] = st.session_state.get("canvas_json")
    for key in ("canvas_json", "canvas_initial", "canvas_drawing", "drawing"):
        st.session_state.pop(key, None)


# Every part of this fragment that comes and goes (the question, what the model sees, why) has a
# slot made every run, st.empty(), filled or not. A run that Streamlit ends early because another
# request is queued (a timer of the sidebar's, say) is not cleaned of what it no longer draws, and
# when the run after it is another fragment's, a cleared drawing kept its "Is it a 4?" below an
# empty canvas. An empty slot overwrites whatever was there, whichever run comes next.
@st.fragment  # a stroke reruns only this part of the page: the prediction comes back sooner
def draw_and_read() -> None:
    model, choice = selected()  # inside: the live model of a running job is fetched afresh each stroke
    if model is None:
        st.warning(t("draw.no_model"))
        return
    answer = st.container()  # filled below, shown first: above the canvas on a phone
    pad, chart = st.columns([1, 1.2], gap="large")
    with pad:
        canvas, upload = canvas_and_upload()
    with pages_first():  # the trainer waits while this drawing is read
        drawing, raw, source, problem = read_input(canvas, upload)
        with answer:
            reading = show_answer(model, choice, drawing, source, problem, chart)
    question, seen, why, fool = chart.empty(), st.empty(), st.empty(), st.empty()  # under the probabilities; below
    if reading is not None and raw is not None and not lesson.hidden("collect"):
        with question.container():  # beside the canvas: the canvas never moves for it
            confirm_or_correct(t, drawing, raw, reading.digit, choice.name)
    if drawing is not None:
        with pages_first(), seen.container():
            show_steps(model, drawing, raw)
    if drawing is not None and not lesson.hidden("why"):
        with why.container():
            if st.toggle(t("draw.why"), key="why_toggle"):
                why_this_answer(t, model, drawing)
    if drawing is not None and not lesson.hidden("fool"):
        with fool.container():
            if st.toggle(t("draw.fool"), key="fool_toggle"):
                attack_view(t, model, drawing.tensor, key="draw_fool")
                st.caption(t("draw.fool_curves"))


def canvas_and_upload():
    """The pen, the canvas, Clear and the upload: (the canvas's result, the uploaded file or None)."""
    pen = PEN if lesson.hidden("pen") else st.slider(t("draw.pen"), 6, 40, PEN, key="pen")
    canvas = st_canvas(stroke_width=pen, stroke_color="#FFFFFF", background_color="#000000", width=280,
                       height=280, drawing_mode="freedraw", return_image_data=True,
                       initial_drawing=st.session_state.get("canvas_initial")
                       or {"objects": [], "cleared": st.session_state.canvas_version}, key="canvas")
    # A callback, not `if st.button(): clear(); st.rerun()`: the canvas is emptied in the
    # very run the click causes, whatever other run it is merged with (a timed fragment's, a page's).
    st.button(t("draw.clear"), icon=":material/ink_eraser:", key="clear", on_click=clear)
    upload = None if lesson.hidden("upload") else st.file_uploader(t("draw.upload"), type=["png", "jpg", "jpeg"],
                                                                   key="upload")
    return canvas, upload


def read_input(canvas, upload):
    """(drawing, the canvas's RGBA or None, where it came from in words, a problem to show)."""
    picture, raw = canvas.json_data, canvas.image_data
    if st.session_state.get("canvas_stale") is not None and picture == st.session_state["canvas_stale"]:
        picture, raw = None, None  # Clear was pressed; the canvas hasn't sent its empty picture yet
    else:
        st.session_state.pop("canvas_stale", None)
    n = strokes(picture)
    if n:
        st.session_state["canvas_json"] = picture
    latest = st.session_state.sources.update(n, upload.file_id if upload is not None else None)
    if latest == "upload":
        try:
            drawing = read_upload(upload.getvalue())
        except (ImageError, NoDigitError) as err:
            return None, None, None, t("draw.cant_read", name=upload.name, error=t.error(err))
        st.session_state["drawing"] = drawing  # the Explain page shows this drawing's feature maps
        return drawing, None, t("draw.source_upload", name=upload.name), None
    drawing = read_canvas(raw) if raw is not None else st.session_state.get("canvas_drawing") if n else None
    if drawing is None:
        return None, None, None, None
    st.session_state["canvas_drawing"] = st.session_state["drawing"] = drawing
    offer_upload = upload is None and not lesson.hidden("upload")
    return drawing, raw, t("draw.source_drawing") + (t("draw.source_or_upload") if offer_upload else ""), None


def show_answer(model, choice, drawing, source, problem, chart):
    """The Prediction and the ten probabilities; returns the reading (None before a drawing)."""
    trouble = st.empty()  # a slot, so an error about an earlier upload never outlives it (see above)
    if problem:
        trouble.error(problem)
    if drawing is None:
        # The same two lines a prediction takes, so the canvas below never moves: it used to jump
        # down when the first prediction replaced a taller prompt, cutting the stroke being drawn.
        st.metric(t("draw.prediction"), "–")
        st.caption(t("draw.prompt"))
        # an empty chart now means the chart library is loaded before the first stroke
        chart.plotly_chart(charts.probabilities(t, [0.0] * 10), width="stretch", config={"displayModeBar": False})
        chart.empty()  # the digit-like slot below
        warm(model, choice)  # the digit-like check's calibration, before the first stroke needs it
        return None
    reading = classify(model, drawing)
    st.metric(t("draw.prediction"), str(reading.digit))
    st.caption(t("draw.sure", p=reading.confidence, source=source, model=choice.label(t)))
    chart.plotly_chart(charts.probabilities(t, reading.probs), width="stretch", config={"displayModeBar": False})
    with chart.empty().container():  # beside the canvas, under the bars: a warning here never moves the canvas
        say_verdict(t, verdict(model, choice, drawing.tensor), reading.digit)  # the guess stands; is it a digit?
    return reading


def show_steps(model, drawing, raw) -> None:
    st.subheader(t("draw.sees"))
    st.caption(t("draw.sees_caption"))
    steps = [(t("draw.step_ink"), drawing.ink), (t("draw.step_cropped"), drawing.cropped),
             (t("draw.step_fitted"), drawing.fitted), (t("draw.step_centred"), drawing.centred)]
    for column, (caption, image) in zip(st.columns(4), steps, strict=True):
        column.image(tile(image), caption=caption, width=160)

    if raw is not None and not lesson.hidden("naive") and st.toggle(t("draw.naive"), key="naive_toggle"):
        squeezed = naive_resize(raw)
        naive = classify(model, squeezed)
        left, right = st.columns([1, 3])
        left.image(tile(squeezed.centred), caption=t("draw.squeezed"), width=160)
        right.metric(t("draw.naive_prediction"), str(naive.digit))
        right.caption(t("draw.naive_caption", p=naive.confidence))

    if not lesson.hidden("models") and st.toggle(t("draw.all_models"), key="models_toggle"):
        models = all_models()
        for row in range(0, len(models), 4):
            for column, (entry, other) in zip(st.columns(4), models[row:row + 4], strict=False):
                r = classify(other, drawing)
                column.metric(entry.label(t), str(r.digit))
                column.caption(t("draw.sure_short", p=r.confidence))


draw_and_read()
