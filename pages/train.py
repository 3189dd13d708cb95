"""Train: pick a recipe, start a run in the background, and watch it learn."""
from dataclasses import replace

import numpy as np
import streamlit as st

from lenet.checkpoints import RUNS_DIR
from lenet.data import MEAN, STD
from lenet.jobs import JobBusy, current_job, mnist, start_job, warm_up
from lenet.train import TrainConfig, pick_device
from ui import charts, router
from ui.drawing import enlarge
from ui.form import recipe_form
from ui.runs import histories

router.enter()
st.title("Train")
warm_up()  # start reading MNIST now, so Start doesn't wait for it
st.caption(f"Training runs on **{pick_device()}**. Defaults are the fast recipe: one epoch of lenet5 "
           "gets about 99% test accuracy.")

config = recipe_form(TrainConfig())
if config is not None:
    try:
        start_job(replace(config, log_every=5))  # the charts want a point every few batches
    except (JobBusy, ValueError) as err:
        st.error(str(err))


def progress_line(snap) -> str:
    if not snap.batches:
        return snap.message
    last = snap.batches[-1]
    eta = f" · about {snap.eta_s:.0f} s left" if snap.eta_s is not None else ""
    return (f"Epoch {last.epoch}/{snap.config.epochs} · batch {last.batch}/{last.batches} · "
            f"{last.samples_per_s:,.0f} samples/s{eta}")


@st.fragment(run_every=0.75 if (current_job() and current_job().snapshot().running) else None)
def live_view() -> None:
    job = current_job()
    if job is None:
        st.info("Choose a recipe and press **Start training**. The run goes on in the background: "
                "switch pages or open another tab and it keeps training.")
        st.plotly_chart(charts.batch_loss([]), width="stretch", key="chart-loss")  # empty axes, filled by the run
        return
    snap = job.snapshot()
    name = f"{snap.config.model}" + (f" ({snap.config.activation})" if snap.config.activation else "")
    top, button = st.columns([5, 1])
    top.markdown(f"**{name}** · {snap.status}")
    if snap.running and button.button("Stop", type="secondary"):
        job.stop()
        job.join(timeout=1.0)  # it stops between batches: show "stopped" in this same redraw
        snap = job.snapshot()
    done = 0.0
    if snap.batches:
        last = snap.batches[-1]
        done = ((last.epoch - 1) * last.batches + last.batch) / (snap.config.epochs * last.batches)
    shown = min(1.0, done) if snap.running else (1.0 if snap.status == "finished" else done)
    st.progress(shown, text=progress_line(snap))
    if snap.status == "failed":
        st.error(snap.message)
    elif snap.status == "finished":
        st.success(snap.message)
    elif not snap.running:
        st.warning(snap.message)
    if snap.batches:
        left, mid, right = st.columns(3)
        left.plotly_chart(charts.batch_loss(snap.batches), width="stretch", key="chart-loss")
        if snap.epochs:
            mid.plotly_chart(charts.epoch_accuracy(snap.epochs), width="stretch", key="chart-acc")
            right.plotly_chart(charts.epoch_loss(snap.epochs), width="stretch", key="chart-test-loss")
        else:
            mid.caption("Accuracy and test loss appear after the first epoch.")
    if not snap.running and st.session_state.get("_seen_running") and snap.evaluation is not None:
        st.session_state["_seen_running"] = False
        st.rerun()  # the run just ended with results: redraw the whole page to show them
    st.session_state["_seen_running"] = snap.running


live_view()

job = current_job()
snap = job.snapshot() if job else None
if snap and snap.evaluation is not None:
    st.subheader("Results")
    ev = snap.evaluation
    last = snap.epochs[-1]
    split = last["eval_split"]
    cols = st.columns(4)
    cols[0].metric(f"Final {split} accuracy", f"{100 * ev.accuracy:.2f}%")
    cols[1].metric(f"{split.capitalize()} loss", f"{ev.loss:.4f}")
    cols[2].metric("Epochs completed", str(len(snap.epochs)))
    cols[3].metric("Training time", f"{last['train_s']:.1f} s")
    left, right = st.columns(2)
    left.plotly_chart(charts.confusion(ev.confusion.numpy()), width="stretch")
    right.plotly_chart(charts.per_class(ev.per_class), width="stretch")
    st.markdown("**Misclassified test digits**, most confident mistakes first")
    test = mnist().test
    wrong = np.flatnonzero((ev.predicted != test.y).numpy())
    wrong = wrong[np.argsort(-ev.confidence.numpy()[wrong])][:24]
    images = ((test.x[wrong, 0].numpy() * STD + MEAN) * 255).clip(0, 255).astype(np.uint8)
    for row in range(0, len(wrong), 8):
        for column, i, image in zip(st.columns(8), wrong[row:row + 8], images[row:row + 8], strict=False):
            column.image(enlarge(image, 84), caption=f"true {int(test.y[i])} → {int(ev.predicted[i])} "
                                                     f"({100 * float(ev.confidence[i]):.0f}%)")

st.subheader("Compare runs")
runs = histories(RUNS_DIR)
if not runs:
    st.caption(f"Finished runs are saved in {RUNS_DIR.relative_to(RUNS_DIR.parents[1])}/ and can be overlaid here.")
else:
    picked = st.multiselect("Runs", list(runs), default=list(runs)[:2],
                            help="For example sigmoid against relu, or mlp against lenet5.")
    metric = st.radio("Show", list(charts.METRICS), horizontal=True, format_func=charts.METRICS.get)
    if picked:
        st.plotly_chart(charts.compare({name: runs[name] for name in picked}, metric), width="stretch")
