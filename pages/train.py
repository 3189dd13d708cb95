"""Train: pick a recipe, start a run in the background, and watch it learn."""
from dataclasses import replace

import numpy as np
import streamlit as st

from lenet.checkpoints import RUNS_DIR, CheckpointError, accuracy_of, load_checkpoint
from lenet.data import pixels
from lenet.jobs import JobBusy, current_job, mnist, start_job, warm_up
from lenet.runs import MAX_RUNS, continue_config, delete_run, saved_runs
from lenet.train import TrainConfig, pick_device
from ui import charts, learning, router
from ui.drawing import enlarge
from ui.form import recipe_form
from ui.runs import histories
from ui.teacher import control, session_id

router.enter()
st.title("Train")
warm_up()  # start reading MNIST now, so Start doesn't wait for it
who = control()
st.caption(f"Training runs on **{pick_device()}**. Defaults are the fast recipe: one epoch of lenet5 "
           "gets 98.9–99.0% test accuracy in a few seconds; two epochs pass 99%.")
if who.allowed:
    st.caption(who.line)
    config = recipe_form(TrainConfig())
    if config is not None:
        try:
            start_job(replace(config, log_every=5))  # the charts want a point every few batches
        except (JobBusy, ValueError) as err:
            st.error(str(err))
else:
    st.info(who.line, icon=":material/school:")


def progress_line(snap) -> str:
    if not snap.batches:
        return snap.message
    last = snap.batches[-1]
    eta = f" · about {snap.eta_s:.0f} s left" if snap.eta_s is not None else ""
    return (f"Epoch {last.epoch} of {snap.first_epoch}–{snap.last_epoch} · batch {last.batch}/{last.batches} · "
            f"{last.samples_per_s:,.0f} samples/s{eta}")


def stopped_by(snap) -> str:
    """Who pressed Stop, as this viewer should read it."""
    if snap.stopped_by is None:
        return ""
    if snap.stopped_by == session_id():
        return " (stopped by you)"
    return " (stopped by the teacher)" if not who.allowed else " (stopped from another browser)"


def done_fraction(snap) -> float:
    if snap.status == "finished":
        return 1.0
    if not snap.batches:
        return 0.0
    last = snap.batches[-1]
    done = (last.epoch - snap.first_epoch) * last.batches + last.batch
    return min(1.0, done / (snap.config.epochs * last.batches))


# A live chart is a still picture: a chart drawn again every second loses its hover label
# anyway, and a static plot is drawn in about half the time (no drag layers, no mode bar).
# Finished runs' charts are interactive.
LIVE = {"staticPlot": True}


def job_running() -> bool:
    job = current_job()
    return job is not None and job.snapshot().running


def curves(batches, probes, epochs, span, split: str, live: bool) -> None:
    """Accuracy and loss side by side. (Before any run too: the browser loads its chart library,
    ~1.5 s on a slow laptop, while nobody waits, instead of after Start.)"""
    left, right = st.columns(2)
    left.plotly_chart(charts.accuracy_curve(batches, probes, epochs, span, split), width="stretch",
                      key="chart-accuracy", config=LIVE if live else None)
    right.plotly_chart(charts.loss_curve(batches, probes, epochs, span, split), width="stretch", key="chart-loss",
                       config=LIVE if live else None)


# Running: a redraw every 0.8 s, so the charts move at least once a second even when a redraw
# is slow (each costs ~45 ms of the server's CPU, which the training shares). Idle: every 2 s,
# to notice a run started from another browser.
@st.fragment(run_every=0.8 if job_running() else 2.0)
def live_view() -> None:
    job = current_job()
    snap = job.snapshot() if job else None
    if snap is None:
        st.info("No run yet. " + ("Choose a recipe and press **Start training**: " if who.allowed else "")
                + "the run goes on in the background, and every open page sees it.")
        curves([], [], [], (1, 1), "test", live=False)  # empty axes: the chart library loads now, not after Start
        return
    name = f"{snap.config.model}" + (f" ({snap.config.activation})" if snap.config.activation else "")
    top, button = st.columns([5, 1])
    top.markdown(f"**{name}** · {snap.status}{stopped_by(snap)}")
    if snap.running and who.allowed and button.button("Stop", type="secondary"):
        job.stop(by=session_id())
        job.join(timeout=1.0)  # it stops between batches: show "stopped" in this same redraw
        snap = job.snapshot()
    elif snap.running and not who.allowed:
        button.caption("Only the teacher can stop this run.")
    st.progress(done_fraction(snap), text=progress_line(snap))
    if snap.status == "failed":
        st.error(snap.message)
    elif snap.status == "finished":
        st.success(snap.message)
    elif not snap.running:
        st.warning(snap.message + stopped_by(snap))
    curves(snap.batches, snap.probes, snap.epochs, (snap.first_epoch, snap.last_epoch), charts.split_of(snap.epochs),
           live=snap.running)
    seen = st.session_state.get("_seen_job")
    st.session_state["_seen_job"] = (snap.name, snap.running)
    if seen is not None and seen != (snap.name, snap.running):
        st.rerun()  # a run started or ended: redraw the whole page (its results, its polling rate)


live_view()


# The live confusion matrix, accuracy per digit and filters change once a second at most, and a
# plotly chart whose data changed is drawn again whole in the browser: every 2 s is enough, and
# leaves the projector's browser time for the curves.
@st.fragment(run_every=2.0 if job_running() else None)
def live_details() -> None:
    """The live run's confusion matrix and accuracy per digit on the test slice, and its latest frame."""
    job = current_job()
    snap = job.snapshot() if job else None
    if snap is None or not snap.running:
        return
    split = charts.split_of(snap.epochs)
    if snap.live is not None:
        n = int(snap.live.confusion.sum())
        left, right = st.columns(2)
        left.plotly_chart(charts.confusion(snap.live.confusion.numpy(), f"Confusion, live: first {n:,} {split} digits"),
                          width="stretch", key="chart-live-confusion", config=LIVE)
        right.plotly_chart(charts.per_class(snap.live.per_class, f"Accuracy per digit, live ({n:,} digits)"),
                           width="stretch", key="chart-live-digits", config=LIVE)
    if snap.frames:
        learning.frame(snap.frames[-1], live=True)


live_details()

job = current_job()
snap = job.snapshot() if job else None
if snap and snap.evaluation is not None and not snap.running:
    st.subheader("Results")
    ev, last = snap.evaluation, snap.epochs[-1]
    split = last["eval_split"]
    cols = st.columns(4)
    cols[0].metric(f"Final {split} accuracy", f"{100 * ev.accuracy:.2f}%")
    cols[1].metric(f"{split.capitalize()} loss", f"{ev.loss:.4f}")
    cols[2].metric("Epochs completed", str(last["epoch"]))
    cols[3].metric("Training time", f"{last['train_s']:.1f} s")
    left, right = st.columns(2)
    left.plotly_chart(charts.confusion(ev.confusion.numpy(), f"Confusion matrix, all {split} digits"),
                      width="stretch")
    right.plotly_chart(charts.per_class(ev.per_class), width="stretch")
    if split == "test":
        st.markdown("**Misclassified test digits**, most confident mistakes first")
        test = mnist().test
        wrong = np.flatnonzero((ev.predicted != test.y).numpy())
        wrong = wrong[np.argsort(-ev.confidence.numpy()[wrong])][:24]
        images = pixels(test.x[wrong])
        for row in range(0, len(wrong), 8):
            for column, i, image in zip(st.columns(8), wrong[row:row + 8], images[row:row + 8], strict=False):
                column.image(enlarge(image, 84), caption=f"true {int(test.y[i])} → {int(ev.predicted[i])} "
                                                         f"({100 * float(ev.confidence[i]):.0f}%)")

if snap and snap.frames and not snap.running:
    learning.film(snap.frames)
if snap and snap.checkpoint is not None and not snap.running and snap.frames:
    learning.strongest_digits(str(snap.checkpoint))

st.subheader("Saved runs")
runs = saved_runs(RUNS_DIR)
st.caption(f"Every finished epoch is saved. The newest {MAX_RUNS} runs are kept ({len(runs)} now); older ones are "
           "deleted as new ones are saved.")
if runs and who.allowed:
    pick, more, act = st.columns([3, 1, 2], vertical_alignment="bottom")
    chosen = pick.selectbox("Run", runs, format_func=lambda p: p.stem)
    epochs = more.number_input("More epochs", 1, 100, 1)
    go_on, remove = act.columns(2)
    try:
        if go_on.button("Continue", help="Train this run further, from its saved weights and optimizer state"):
            config, ckpt = continue_config(chosen, int(epochs))
            start_job(replace(config, log_every=5), resume=chosen, resume_ckpt=ckpt)
            st.rerun()
        if remove.button("Delete", help="Delete this run's checkpoint for good"):
            delete_run(chosen, RUNS_DIR, keep=snap.checkpoint if snap and snap.running else None)
            st.rerun()
    except (JobBusy, ValueError, CheckpointError) as err:
        st.error(str(err))
elif runs:
    st.caption("Continuing and deleting runs is the teacher's.")
for path in runs[:8]:
    try:
        ckpt = load_checkpoint(path)
    except CheckpointError:
        continue
    accuracy = accuracy_of(ckpt)
    st.caption(f"**{path.stem}** · {ckpt['model']} · {len(ckpt['history'])} epoch(s) · "
               + (f"{accuracy:.2%}" if accuracy is not None else "no accuracy yet")
               + ("" if "optimizer" in ckpt else " · weights only: continues with a fresh optimizer"))

st.subheader("Compare runs")
run_histories = histories(RUNS_DIR)
if not run_histories:
    st.caption(f"Finished runs are saved in {RUNS_DIR.relative_to(RUNS_DIR.parents[1])}/ and can be overlaid here.")
else:
    picked = st.multiselect("Runs", list(run_histories), default=list(run_histories)[:2],
                            help="For example sigmoid against relu, or mlp against lenet5.")
    shown = {name: run_histories[name] for name in picked}
    offered = charts.metrics_in(shown)
    if offered:
        metric = st.radio("Show", offered, horizontal=True, format_func=charts.METRICS.get)
        st.plotly_chart(charts.compare(shown, metric), width="stretch")
