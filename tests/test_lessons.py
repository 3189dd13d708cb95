"""The ready lessons in the README: each link opens the recipe it claims, and each claim holds
when the lesson is run, on the real MNIST, one epoch as the app would train it."""
from __future__ import annotations

from dataclasses import replace
from urllib.parse import parse_qsl, urlsplit

import pytest
import torch

from lenet.checkpoints import CHECKPOINT_DIR, load_model
from lenet.data import normalise, sample_digits
from lenet.inside.introspect import feature_maps
from lenet.inside.stepper import step
from lenet.models import MODELS, build_model
from lenet.train import TrainConfig, train
from tests.conftest import ROOT
from ui.lesson import read

pytestmark = pytest.mark.mnist
BASE = "http://localhost:8501"
LESSONS = {  # the README's links, each with the run it is compared with (one setting changed back)
    "sigmoid": (f"{BASE}/train?activation=sigmoid&optimizer=sgd&lr=0.05"
                "&hide=model,pool,schedule,batch,images,weight_decay,label_smoothing,seed,augment"
                "&note=Start%2C+then+set+Activation+to+relu+and+Start+again.+Compare+them+under+Compare+runs.",
                {"activation": None}),
    "pooling": (f"{BASE}/train?pool=avg&hide=model,activation,optimizer,lr,schedule,batch,images,weight_decay,"
                "label_smoothing,seed,augment&note=Average+pooling%2C+as+LeCun+had+it.+Then+try+max.",
                {"pool": None}),
    "mlp": (f"{BASE}/train?model=mlp&lang=zh&hide=activation,pool,schedule,weight_decay,label_smoothing,seed"
            "&note=MLP+%E5%AF%B9%E6%AF%94+LeNet%EF%BC%9A%E5%85%88%E8%AE%AD%E7%BB%83+mlp%EF%BC%8C%E5%86%8D%E6%8D%A2"
            "%E6%88%90+lenet5%E3%80%82", {"model": "lenet5"}),
    "lr": (f"{BASE}/train?lr=1&hide=model,activation,pool,optimizer,schedule,batch,images,weight_decay,"
           "label_smoothing,seed,augment&note=A+learning+rate+of+1%3A+watch+the+loss.", {"lr": TrainConfig().lr}),
    "images": (f"{BASE}/train?images=1000&epochs=10&hide=model,activation,pool,optimizer,lr,schedule,batch,"
               "weight_decay,label_smoothing,seed,augment&note=1%2C000+images%2C+10+epochs.+Then+60%2C000+images"
               "%2C+1+epoch.", {"limit": None, "epochs": 1}),
    "stepper": (f"{BASE}/explain?view=stepper&digit=7&lang=zh&hide=calculator,flatten,numbers", {}),
}


def recipe_of(name: str) -> TrainConfig:
    lesson = read(dict(parse_qsl(urlsplit(LESSONS[name][0]).query)), ["lenet5"])
    assert lesson.problems == (), lesson.problems
    return TrainConfig(**lesson.recipe)


_RUNS: dict[str, float] = {}  # accuracy per recipe: four lessons compare with the default, trained once


def accuracy(config: TrainConfig, mnist) -> float:
    """Test accuracy after training `config` (runs are deterministic: the same recipe, the same run)."""
    key = repr(config)
    if key not in _RUNS:
        _RUNS[key] = train(config, mnist).history[-1]["eval_accuracy"]
    return _RUNS[key]


def test_the_teaching_guide_lists_these_lessons():
    guide = (ROOT / "docs" / "teaching.md").read_text()
    for name, (url, _) in LESSONS.items():
        assert url in guide, name


def test_sigmoid_barely_learns_with_plain_sgd_where_relu_does(mnist):
    lesson = recipe_of("sigmoid")
    assert (lesson.activation, lesson.optimizer) == ("sigmoid", "sgd")
    sigmoid, relu = accuracy(lesson, mnist), accuracy(replace(lesson, **LESSONS["sigmoid"][1]), mnist)
    assert sigmoid < 0.20 and relu > 0.97, (sigmoid, relu)  # measured: 10.3% (chance) against 98.6%


def test_average_pooling_learns_about_as_well_as_max(mnist):
    lesson = recipe_of("pooling")
    average, best = accuracy(lesson, mnist), accuracy(replace(lesson, **LESSONS["pooling"][1]), mnist)
    assert average > 0.985 and best > 0.985 and abs(best - average) < 0.01, (average, best)  # 98.8% against 99.0%


def test_lenet_beats_the_mlp_with_a_quarter_of_its_weights(mnist):
    lesson = recipe_of("mlp")
    mlp, lenet = accuracy(lesson, mnist), accuracy(replace(lesson, **LESSONS["mlp"][1]), mnist)
    weights = {name: sum(p.numel() for p in build_model(name).parameters()) for name in ("mlp", "lenet5")}
    assert lenet > mlp + 0.01, (mlp, lenet)  # measured: 97.4% against 99.0%
    assert weights["lenet5"] * 4 < weights["mlp"], weights  # 61,706 against 248,460
    assert set(weights) <= set(MODELS)


def test_a_learning_rate_of_one_never_gets_off_the_ground(mnist):
    lesson = recipe_of("lr")
    assert lesson.lr == 1.0
    too_high, chosen = accuracy(lesson, mnist), accuracy(replace(lesson, **LESSONS["lr"][1]), mnist)
    assert too_high < 0.20 and chosen > 0.985, (too_high, chosen)  # measured: 11.4% against 99.0%


def test_a_thousand_images_for_ten_epochs_lose_to_sixty_thousand_for_one(mnist):
    lesson = recipe_of("images")
    assert (lesson.limit, lesson.epochs) == (1000, 10)
    few, many = accuracy(lesson, mnist), accuracy(replace(lesson, **LESSONS["images"][1]), mnist)
    assert many - few > 0.02, (few, many)  # measured: 95.0% against 99.0%


@pytest.mark.app
def test_the_stepper_lesson_opens_on_digit_seven_and_shows_the_models_own_number():
    from streamlit.testing.v1 import AppTest

    lesson = read(dict(parse_qsl(urlsplit(LESSONS["stepper"][0]).query)))
    assert lesson.problems == () and (lesson.view, lesson.digit, lesson.lang) == ("stepper", 7, "zh")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params.update(dict(parse_qsl(urlsplit(LESSONS["stepper"][0]).query)))
    at.run()
    at.switch_page("pages/explain.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert [r for r in at.radio if r.key == "explain_view"][0].value == "stepper"
    assert [n for n in at.number_input if n.key == "explain_digit"][0].value == 7
    assert not [s for s in at.slider if s.key in ("calc_n", "flat_side")]  # the calculators are hidden
    model, _ = load_model(CHECKPOINT_DIR / "lenet5.pt")
    digits, _ = sample_digits()
    x = normalise(torch.from_numpy(digits[7:8]))
    shown = step(model, x, "conv1", 0, 0, 0)
    assert any(f"= **{shown.value:+.4f}**" in m.value for m in at.markdown)
    assert shown.value == pytest.approx(float(feature_maps(model, x)["conv1"][0, 0, 0]), abs=1e-5)
