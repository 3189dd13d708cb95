"""Train: pick a recipe, start a run in the background, and watch it learn."""
from pathlib import Path

import streamlit as st

from lenet.checkpoints import CheckpointError, accuracy_of, load_checkpoint
from lenet.classroom.jobqueue import JOBS
from lenet.classroom.jobs import JobBusy, continued_run, new_run
from lenet.classroom.runs import delete_run, max_runs, saved_runs
from lenet.classroom.serving import mnist, warm_up
from lenet.classroom.state import RunState, Status
from lenet.config import pick_device
from lenet.data import pixels
from lenet.files import ROOT, runs_dir
from ui import charts, learning, lesson, router
from ui.drawing import enlarge
from ui.form import recipe_form
from ui.i18n import text
from ui.runs import histories
from ui.teacher import control, session_id

router.enter()
t = text()
st.title(t("train.title"))
warm_up()  # start reading MNIST now, so Start doesn't wait for it
who = control()
st.caption(t("train.intro", device=pick_device()))
if who.allowed:
    st.caption(t(who.line, env=who.env))
    config = recipe_form(t, lesson.recipe(), hidden=lesson.hidden_settings())
    if config is not None:
        try:
            started = JOBS.start_first(new_run(config))
            if started.snapshot().status is Status.QUEUED:  # a student's design is training: the teacher's goes next
                st.info(t("train.next_in_line", name=started.state.name), icon=":material/hourglass_top:")
        except (JobBusy, ValueError) as err:
            st.error(t.error(err))
else:
    st.info(t(who.line, env=who.env), icon=":material/school:")


def progress_line(snap: RunState) -> str:
    if not snap.batches:
        return t.msg(snap.message)
    last = snap.batches[-1]
    eta = t("train.eta", s=snap.eta_s) if snap.eta_s is not None else ""
    where = (t("train.epoch_of", epoch=last.epoch, last=snap.last_epoch) if snap.first_epoch == 1 else
             t("train.epoch_continued", epoch=last.epoch, first=snap.first_epoch, last=snap.last_epoch))
    return where + t("train.progress", batch=last.batch, batches=last.batches, speed=last.samples_per_s) + eta


def status_of(snap: RunState) -> str:
    """The run's state in a word or three, and who stopped it, once."""
    if snap.stopped_by is None or snap.status not in (Status.STOPPING, Status.STOPPED):
        return t("train.status." + snap.status.value)
    if snap.stopped_by == session_id():
        return t(f"train.{snap.status.value}_by_you")
    return t(f"train.{snap.status.value}_by_" + ("other" if who.allowed else "teacher"))


# A live chart is a still picture: a chart drawn again every second loses its hover label
# anyway, and a static plot is drawn in about half the time (no drag layers, no mode bar).
# Finished runs' charts are interactive.
LIVE = learning.LIVE


def current() -> RunState | None:
    job = JOBS.current()
    return job.snapshot() if job is not None else None


def job_running() -> bool:
    snap = current()
    return snap is not None and snap.running


def curves(batches, probes, epochs, span, split: str, live: bool) -> None:
    """Accuracy and loss side by side. (Before any run too: the browser loads its chart library,
    ~1.5 s on a slow laptop, while nobody waits, instead of after Start.)"""
    learning.curves(t, batches, probes, epochs, span, split, live)


def stop_button(snap: RunState, place) -> RunState:
    """Stop, for whoever may press it; the run as it is after."""
    if snap.running and who.allowed and place.button(t("train.stop"), type="secondary", key="stop"):
        job = JOBS.current()
        job.stop(by=session_id())
        job.join(timeout=1.0)  # it stops between batches: show "stopped" in this same redraw
        return job.snapshot()
    if snap.running and not who.allowed:
        place.caption(t("train.only_teacher_stops"))
    return snap


# Running: a redraw every 0.8 s, so the charts move at least once a second even when a redraw
# is slow (each costs ~45 ms of the server's CPU, which the training shares). Idle: every 2 s,
# to notice a run started from another browser.
@st.fragment(run_every=0.8 if job_running() else 2.0)
def live_view() -> None:
    snap = current()
    if snap is None:
        st.info(t("train.no_run") + (t("train.no_run_start") if who.allowed else "") + t("train.no_run_background"))
        curves([], [], [], (1, 1), "test", live=False)  # empty axes: the chart library loads now, not after Start
        return
    name = f"{snap.config.model}" + (f" ({snap.config.activation})" if snap.config.activation else "")
    top, button = st.columns([5, 1])
    snap = stop_button(snap, button)
    top.markdown(f"**{name}** · {status_of(snap)}")
    st.progress(snap.done, text=progress_line(snap))
    if snap.status is Status.FAILED:
        st.error(t.msg(snap.message))
    elif snap.status is Status.FINISHED:
        st.success(t.msg(snap.message))
    elif not snap.running:
        st.warning(t.msg(snap.message))
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
    snap = current()
    if snap is None or not snap.running:
        return
    split = t("words." + charts.split_of(snap.epochs))
    if snap.live is not None:
        n = int(snap.live.confusion.sum())
        left, right = st.columns(2)
        left.plotly_chart(charts.confusion(t, snap.live.confusion.numpy(), t("train.live_confusion", n=n, split=split)),
                          width="stretch", key="chart-live-confusion", config=LIVE)
        right.plotly_chart(charts.per_class(t, snap.live.per_class, t("train.live_digits", n=n)),
                           width="stretch", key="chart-live-digits", config=LIVE)
    if snap.frames:
        learning.frame(t, snap.frames[-1], live=True)


live_details()


def results(snap: RunState) -> None:
    """A finished (or stopped) run's last epoch: the numbers, the confusions, its surest mistakes."""
    st.subheader(t("train.results"))
    ev, last = snap.evaluation, snap.epochs[-1]
    split = t("words." + last["eval_split"])
    cols = st.columns(4)
    cols[0].metric(t("train.final_accuracy", split=split), f"{100 * ev.accuracy:.2f}%")
    cols[1].metric(t("train.final_loss", split=split), f"{ev.loss:.4f}")
    cols[2].metric(t("train.epochs_done"), str(last["epoch"]))
    cols[3].metric(t("train.training_time"), t("words.seconds", s=last["train_s"]))
    left, right = st.columns(2)
    left.plotly_chart(charts.confusion(t, ev.confusion.numpy(), t("train.confusion_all", split=split)),
                      width="stretch")
    right.plotly_chart(charts.per_class(t, ev.per_class), width="stretch")
    if last["eval_split"] == "test":
        st.markdown(t("train.mistakes"))
        test = mnist().test
        wrong = ev.confident_mistakes(test.y, k=24)
        for row in range(0, len(wrong), 8):
            for column, i in zip(st.columns(8), wrong[row:row + 8], strict=False):
                column.image(enlarge(pixels(test.x[i])[0], 84), caption=t(
                    "train.mistake", true=int(test.y[i]), said=int(ev.predicted[i]), p=float(ev.confidence[i])))


def saved_runs_section(snap: RunState | None) -> None:
    """The saved runs: continue or delete one (the teacher), and a line for each of the newest."""
    st.subheader(t("train.saved_runs"))
    runs = saved_runs()
    st.caption(t("train.saved_caption", cap=max_runs(), n=len(runs)))
    if runs and who.allowed:
        pick, more, act = st.columns([3, 1, 2], vertical_alignment="bottom")
        chosen = pick.selectbox(t("train.run"), runs, format_func=lambda p: p.stem, key="saved_run")
        epochs = more.number_input(t("train.more_epochs"), 1, 100, 1, key="more_epochs")
        go_on, remove = act.columns(2)
        try:
            if go_on.button(t("train.continue"), help=t("train.continue_help"), key="continue"):
                JOBS.start_first(continued_run(chosen, int(epochs)))
                st.rerun()
            if remove.button(t("train.delete"), help=t("train.delete_help"), key="delete"):
                delete_run(chosen, keep=snap.checkpoint if snap and snap.running else None)
                st.rerun()
        except (JobBusy, ValueError, CheckpointError) as err:
            st.error(t.error(err))
    elif runs:
        st.caption(t("train.teacher_continues"))
    for path in runs[:8]:
        try:
            ckpt = load_checkpoint(path)
        except CheckpointError:
            continue
        accuracy = accuracy_of(ckpt)
        st.caption(t("train.saved_line", name=path.stem, model=ckpt["model"], epochs=len(ckpt["history"]),
                     accuracy=f"{accuracy:.2%}" if accuracy is not None else t("train.no_accuracy"))
                   + ("" if "optimizer" in ckpt else t("train.weights_only")))


def folder_name(folder: Path) -> str:
    """A folder as a reader finds it: from the repository when it is inside it."""
    return str(folder.relative_to(ROOT)) + "/" if folder.is_relative_to(ROOT) else str(folder)


def compare_section() -> None:
    st.subheader(t("train.compare"))
    run_histories = histories(runs_dir())
    if not run_histories:
        st.caption(t("train.compare_empty", folder=folder_name(runs_dir())))
        return
    picked = st.multiselect(t("train.runs"), list(run_histories), default=list(run_histories)[:2],
                            help=t("train.runs_help"), key="compare_runs")
    shown = {name: run_histories[name] for name in picked}
    offered = charts.metrics_in(shown)
    if offered:
        metric = st.radio(t("train.show"), offered, horizontal=True, key="compare_metric",
                          format_func=lambda m: t("chart.metric." + m))
        st.plotly_chart(charts.compare(t, shown, metric), width="stretch")


snap = current()
if snap and snap.evaluation is not None and not snap.running:
    results(snap)
if snap and snap.frames and not snap.running:
    learning.film(t, snap.frames)
if snap and snap.checkpoint is not None and not snap.running and snap.frames:
    learning.strongest_digits(t, str(snap.checkpoint))
if not lesson.hidden("saved"):
    saved_runs_section(snap)
if not lesson.hidden("compare"):
    compare_section()
