"""Draw: a digit on the canvas (or an uploaded photo), what the model sees, and its answer."""
import streamlit as st

from lenet.classroom.serving import pages_first
from ui.common import lesson, router
from ui.common.i18n import text
from ui.common.picker import selected
from ui.common.teacher import may_write
from ui.draw import answer, canvas
from ui.draw.collect import confirm_or_correct
from ui.draw.why import why_this_answer
from ui.inside.doubt import warm
from ui.inside.fool import attack_view

router.enter()
t = text()
st.title(t("draw.title"))
if lesson.draw_digit() is not None:  # the lesson asks for one digit (`digit=3`): the class draws it
    st.info(t("draw.draw_this", digit=lesson.draw_digit()), icon=":material/edit:")
canvas.mount()


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
    warm(model, choice)  # the digit-like check, ready before the canvas shows: a first stroke never waits on it
    top = st.container()  # filled below, shown first: above the canvas on a phone
    left, chart = st.columns([1, 1.2], gap="large")
    with left:
        drawn, upload = canvas.pad(t)
    with pages_first():  # the trainer waits while this drawing is read
        seen = canvas.read(t, drawn, upload)
        with top:
            reading, flagged = answer.show(t, model, choice, seen, chart)
    question, sees, why, fool = chart.empty(), st.empty(), st.empty(), st.empty()  # under the probabilities; below
    if reading is not None and seen.raw is not None and not lesson.hidden("collect") and may_write():
        with question.container():  # beside the canvas: the canvas never moves for it
            confirm_or_correct(t, seen.drawing, seen.raw, reading.digit, choice.name, flagged)
    if seen.drawing is not None:
        with pages_first(), sees.container():
            answer.steps(t, model, seen)
    if seen.drawing is not None and not lesson.hidden("why"):
        with why.container():
            if st.toggle(t("draw.why"), key="why_toggle"):
                why_this_answer(t, model, seen.drawing)
    if seen.drawing is not None and not lesson.hidden("fool"):
        with fool.container():
            if st.toggle(t("draw.fool"), key="fool_toggle"):
                attack_view(t, model, seen.drawing.tensor, key="draw_fool")
                st.caption(t("draw.fool_curves"))


draw_and_read()
