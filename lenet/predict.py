"""From a picture (or a ready tensor) to the model's answer: the one inference function.

The CLI, the pages, the benches and the tests all call `classify`. It never changes the model
it is given (no mode switch, no hooks, no moved weights), so one loaded model can serve many
sessions at once.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .ink import ImageLike
from .preprocess import FIELD, Preprocessed, to_mnist

__all__ = ["Prediction", "answer", "classify"]


@dataclass(frozen=True)
class Prediction:
    digit: int  # the most probable digit
    confidence: float  # its probability, 0..1
    probs: list[float]  # all ten probabilities, summing to 1
    steps: Preprocessed | None  # how the picture became the model's input; None for a ready tensor


def classify(model: nn.Module, image: ImageLike | Preprocessed | torch.Tensor) -> Prediction:
    """The model's answer for one digit.

    Args:
        model: a model in eval mode (load_model gives one). It is only read.
        image: a picture (array or PIL image, preprocessed MNIST-style first), a Preprocessed
            result, or a normalised tensor of shape (28, 28), (1, 28, 28) or (1, 1, 28, 28).
    Raises:
        NoDigitError or ImageError for a picture with no digit or no image in it; ValueError for
        a tensor of another shape or a model in training mode.
    """
    if model.training:
        raise ValueError("classify() needs a model in eval mode: call .eval() on your own copy first")
    if isinstance(image, torch.Tensor):
        steps, x = None, image
    else:
        steps = image if isinstance(image, Preprocessed) else to_mnist(image)
        x = steps.tensor
    if x.numel() != FIELD * FIELD:
        raise ValueError(f"classify() takes one 28×28 image, got a tensor of shape {tuple(x.shape)}")
    device = next(model.parameters()).device
    with torch.no_grad():
        logits = model(x.reshape(1, 1, FIELD, FIELD).to(device))  # (1, 10)
    return answer(logits, steps)


def answer(logits: torch.Tensor, steps: Preprocessed | None = None) -> Prediction:
    """The answer the model's ten scores (1, 10) give: softmax, then the most probable digit."""
    probs = F.softmax(logits, dim=1)[0].cpu()
    digit = int(probs.argmax())
    return Prediction(digit=digit, confidence=float(probs[digit]), probs=probs.tolist(), steps=steps)
