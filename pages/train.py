"""Train: pick a recipe, start a run in the background, and watch it learn."""
import numpy as np
import streamlit as st

from lenet.data import MEAN, STD
from lenet.checkpoints import RUNS_DIR
from lenet.jobs import JobBusy, current_job, mnist, start_job, warm_up
from lenet.models import ACTIVATIONS, MODELS
from lenet.train import OPTIMIZERS, SCHEDULES, TrainConfig, pick_device
from ui import charts
from ui.drawing import enlarge
from ui.runs import histories

st.title("Train")
warm_up()  # start reading MNIST now, so Start doesn't wait for it
defaults = TrainConfig()
st.caption(f"Training runs on **{pick_device()}**. Defaults are the fast recipe: one epoch of lenet5 "
           "passes 99% test accuracy.")

with st.form("settings"):
    a, b, c, d = st.columns(4)
    model = a.selectbox("Model to train", list(MODELS), help="lenet5: ReLU + max-pool · lenet5-classic: LeCun 1998 · mlp: no convolutions")
    activation = a.selectbox("Activation", ["model's own", *ACTIVATIONS],
                             help="Try sigmoid on lenet5 to see why modern nets use ReLU.")
    optimizer = b.selectbox("Optimizer", OPTIMIZERS)
    lr = b.number_input("Learning rate (peak)", 1e-5, 1.0, defaults.lr, format="%.4f")
    schedule = b.selectbox("Schedule", SCHEDULES)
    epochs = c.number_input("Epochs", 1, 100, defaults.epochs)
    batch_size = c.number_input("Batch size", 1, 4096, defaults.batch_size)
    images = c.number_input("Training images", 1000, 60000, 60000, step=1000, help="Fewer images: a quicker demo.")
    weight_decay = d.number_input("Weight decay", 0.0, 1.0, defaults.weight_decay, format="%.5f")
    smoothing = d.number_input("Label smoothing", 0.0, 0.5, defaults.label_smoothing, format="%.2f")
    seed = d.number_input("Seed", 0, 2**31 - 1, defaults.seed)
    augment = d.checkbox("Augment (small random shifts, turns, stretches)", defaults.augment)
    start = st.form_submit_button("Start training", type="primary")

if start:
    config = TrainConfig(model=model, activation=None if activation == "model's own" else activation, epochs=int(epochs),
                         batch_size=int(batch_size), lr=float(lr), optimizer=optimizer, weight_decay=float(weight_decay),
                         schedule=schedule, label_smoothing=float(smoothing), augment=augment, seed=int(seed),
                         train_limit=None if images >= 60000 else int(images), log_every=5)
    try:
        start_job(config)
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
    st.progress(min(1.0, done) if snap.running else (1.0 if snap.status == "finished" else done), text=progress_line(snap))
    if snap.status == "failed":
        st.error(snap.message)
    elif not snap.running:
        st.success(snap.message) if snap.status == "finished" else st.warning(snap.message)
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
    split = "test" if "test_accuracy" in last else "val"
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
        for column, i, image in zip(st.columns(8), wrong[row:row + 8], images[row:row + 8]):
            column.image(enlarge(image, 84), caption=f"true {int(test.y[i])} → {int(ev.predicted[i])} "
                                                     f"({100 * float(ev.confidence[i]):.0f}%)")

st.subheader("Compare runs")
runs = histories(RUNS_DIR)
if not runs:
    st.caption(f"Finished runs are saved in {RUNS_DIR.relative_to(RUNS_DIR.parents[1])}/ and can be overlaid here.")
else:
    picked = st.multiselect("Runs", list(runs), default=list(runs)[:2],
                            help="For example sigmoid against relu, or mlp against lenet5.")
    metric = st.radio("Show", ["test_accuracy", "val_accuracy", "train_loss", "train_accuracy"], horizontal=True,
                      format_func=lambda m: m.replace("_", " "))
    if picked:
        st.plotly_chart(charts.compare({name: runs[name] for name in picked}, metric), width="stretch")
