"""Why did the model answer that? `occlusion`, `saliency` and `grad_cam` maps over a normalised input
(1, 1, 28, 28), as Preprocessed.tensor holds; `robustness` and `corner_case` on the centred uint8 digit.

Nothing here changes the model: no hooks, no mode switch, no moved weights. Gradients come from
torch.autograd.grad with respect to our own input (or our own copy of conv2's output) only, so no
parameter's .grad is written. One loaded model serves every browser session and the trainer at once.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageFilter
from torch import nn

from ..data import MEAN, STD, normalise
from ..ink import resize_longest
from ..messages import Message
from ..predict import classify
from ..preprocess import FIELD, NO_DIGIT, NoDigitError, naive_resize, to_mnist

__all__ = ["CAM_LAYER", "FILL", "MID_GREY", "VARIANTS", "Attribution", "Variant", "corner_case", "grad_cam",
           "occlusion", "robustness", "rotate", "saliency", "scale", "shift", "thicken", "thin"]

# Occlusion patches are MNIST's mean pixel (intensity MEAN, 0 once normalised), as Zeiler and Fergus fill
# with the mean. Paper (BACKGROUND) could never show that empty space matters; mid-grey looks neutral but
# the models read it as ink: on the 100 shipped test digits a mid-grey patch on paper far from the strokes
# cost 0.8× (lenet5) to 2.7× (mlp) what one on the strokes did, mapping where a blob would confuse the
# model rather than what it relies on. With the mean, strokes cost 4× (mlp) to 17× (lenet5) more.
FILL = 0.0
MID_GREY = (0.5 - MEAN) / STD
CAM_LAYER = "features.conv2"  # the last conv layer with a spatial map (10×10) in both LeNets
CANVAS, CORNER_INK, CORNER_MARGIN = 280, 120, 20  # the corner case: a 280 px canvas, digit in 120 px, 20 px in


@dataclass(frozen=True)
class Attribution:
    map: torch.Tensor  # (28, 28) float32 on the CPU, in the input's pixel coordinates
    target: int  # the class explained: the predicted digit unless another was asked for
    prob: float  # the model's probability of `target` on the unchanged input


@dataclass(frozen=True)
class Variant:
    name: Message  # what was done to the digit, e.g. "shifted 3 px right"
    image: np.ndarray  # (28, 28) uint8, exactly what the model read
    digit: int  # its answer
    confidence: float  # its probability of that answer, 0..1


def _eval_only(model: nn.Module) -> None:
    if model.training:  # switching it here would change it for every session sharing it
        raise ValueError("attribution needs a model in eval mode: call .eval() on your own copy first")


def _prepare(model: nn.Module, x: torch.Tensor, target: int | None) -> tuple[torch.Tensor, torch.Tensor, int]:
    """x as (1, 1, 28, 28) on the model's device, its ten probabilities, and the target class."""
    _eval_only(model)
    if x.numel() != FIELD * FIELD:
        raise ValueError(f"attribution takes one 28×28 image, got a tensor of shape {tuple(x.shape)}")
    x = x.detach().reshape(1, 1, FIELD, FIELD).float().to(next(model.parameters()).device)
    with torch.no_grad():
        probs = F.softmax(model(x), dim=1)[0]  # (10,)
    target = int(probs.argmax()) if target is None else int(target)
    if not 0 <= target < len(probs):
        raise ValueError(f"target must be a class 0..{len(probs) - 1}, got {target}")
    return x, probs, target


def _unit(heat: torch.Tensor) -> torch.Tensor:
    """Scaled so the largest value is 1 (all zeros stay zeros), on the CPU."""
    peak = float(heat.max())
    return (heat / peak if peak > 0 else torch.zeros_like(heat)).detach().cpu()


def occlusion(model: nn.Module, x: torch.Tensor, patch: int = 6, stride: int = 2, target: int | None = None,
              fill: float = FILL) -> Attribution:
    """Per pixel, the mean drop in p(target) over every position of a patch×patch patch of `fill`
    (normalised) that covers it.

    All P·P occluded copies (144 for the defaults) go through the model in one batch. Drops are raw
    probabilities, not rescaled: negative where hiding that place makes the model surer.
    """
    if not (1 <= patch <= FIELD and stride >= 1):
        raise ValueError(f"patch must be 1..{FIELD} and stride at least 1, got {patch} and {stride}")
    x, probs, target = _prepare(model, x, target)
    starts = list(range(0, FIELD - patch + 1, stride))
    if starts[-1] != FIELD - patch:
        starts.append(FIELD - patch)  # so the last rows and columns are covered too
    s, r = torch.tensor(starts, device=x.device), torch.arange(FIELD, device=x.device)
    inside = (r >= s[:, None]) & (r < s[:, None] + patch)  # (P, 28): the rows (or columns) each start covers
    masks = (inside[:, None, :, None] & inside[None, :, None, :]).reshape(-1, FIELD, FIELD)  # (P·P, 28, 28)
    copies = torch.where(masks[:, None], fill, x)  # (P·P, 1, 28, 28), row-major over positions
    with torch.no_grad():
        hidden = F.softmax(model(copies), dim=1)[:, target]  # (P·P,)
    cover = masks.float()
    heat = ((probs[target] - hidden)[:, None, None] * cover).sum(0) / cover.sum(0)  # (28, 28)
    return Attribution(map=heat.cpu(), target=target, prob=float(probs[target]))


def saliency(model: nn.Module, x: torch.Tensor, target: int | None = None) -> Attribution:
    """|∂ logit_target / ∂ pixel|, scaled to a maximum of 1.

    The logit, not the probability: a confident answer's softmax is saturated, so its gradient all
    but vanishes, and it mixes in every other class's logit; the logit's gradient is this class's
    evidence alone.
    """
    x, probs, target = _prepare(model, x, target)
    pixels = x.clone().requires_grad_(True)  # a leaf of our own: the only thing differentiated
    with torch.enable_grad():
        logit = model(pixels)[0, target]
        (grad,) = torch.autograd.grad(logit, pixels)  # (1, 1, 28, 28)
    return Attribution(map=_unit(grad.abs()[0, 0]), target=target, prob=float(probs[target]))


def grad_cam(model: nn.Module, x: torch.Tensor, target: int | None = None) -> Attribution:
    """Grad-CAM (Selvaraju et al. 2017) on conv2: its 16 maps (1, 16, 10, 10) weighted by the mean
    gradient of the target's logit over each, summed, ReLU'd, placed on the 28×28 image (`_place`) and
    scaled to a maximum of 1. KeyError for a model with no conv2 (the MLP).

    On a network this shallow the channel-mean weights lose most of the "where": on the shipped lenet5
    the map lights blank paper (conv2 channels that fire on paper weigh for the answer) and is all zero
    for a third of the test digits; on lenet5-classic it favours the strokes. The tests measure both.
    """
    layers = [(name, m) for name, m in model.named_modules() if not list(m.children())]  # run order
    names = [name for name, _ in layers]
    if CAM_LAYER not in names:
        raise KeyError(f"{type(model).__name__} has no convolution layer {CAM_LAYER}, so no Grad-CAM map")
    x, probs, target = _prepare(model, x, target)
    cut = names.index(CAM_LAYER) + 1
    with torch.no_grad():
        for _, layer in layers[:cut]:  # as introspect.trace: the model's own forward, layer by layer
            x = layer(x)
    maps = x.clone().requires_grad_(True)  # (1, 16, 10, 10): our own copy of conv2's output
    with torch.enable_grad():
        y = maps
        for _, layer in layers[cut:]:
            y = layer(y)
        (grad,) = torch.autograd.grad(y[0, target], maps)  # (1, 16, 10, 10)
    weights = grad.mean(dim=(2, 3), keepdim=True)  # (1, 16, 1, 1): how much each channel matters
    cam = F.relu((weights * maps.detach()).sum(1, keepdim=True))  # (1, 1, 10, 10)
    return Attribution(map=_unit(_place(cam)[0, 0]), target=target, prob=float(probs[target]))


def _place(cam: torch.Tensor) -> torch.Tensor:
    """conv2's (N, C, 10, 10) -> (N, C, 28, 28) in image coordinates.

    Cell i reads pool1 rows i..i+4, conv1 rows 2i..2i+9, padded-input rows 2i..2i+13: centred on image
    row 2i+4.5 (the pad is 2). So the cells lie 2 px apart from image row 4.5 to 22.5, not spread over
    0..27 as a plain 10 -> 28 resize would put them. A ×2 bilinear upsample reads output row o at cell
    (o - 0.5)/2, which for image row r = o + 4 is (r - 4.5)/2, exactly right, for rows 4..23; the 4 rows
    each side lie past the outermost centres and take the edge cell's value.
    """
    up = F.interpolate(cam, scale_factor=2, mode="bilinear", align_corners=False)  # (N, C, 20, 20)
    return F.pad(up, (4, 4, 4, 4), mode="replicate")  # (N, C, 28, 28)


def shift(image: np.ndarray, right: int = 0, down: int = 0) -> np.ndarray:
    """Moved `right` px right and `down` px down (negative: left, up); what leaves is lost, what enters is blank."""
    h, w = image.shape
    out = np.zeros_like(image)
    out[max(down, 0):h + min(down, 0), max(right, 0):w + min(right, 0)] = \
        image[max(-down, 0):h - max(down, 0), max(-right, 0):w - max(right, 0)]
    return out


def rotate(image: np.ndarray, degrees: float) -> np.ndarray:
    """Turned `degrees` anticlockwise about the field's centre (bilinear), corners filled blank."""
    return np.array(Image.fromarray(image).rotate(degrees, resample=Image.Resampling.BILINEAR))


def scale(image: np.ndarray, factor: float) -> np.ndarray:
    """Scaled by `factor` about the field's centre (bilinear); ink pushed past the edge is lost."""
    c, k = image.shape[0] / 2, 1 / factor  # PIL maps each output point (u, v) to input (k·u + a, k·v + a)
    inverse = (k, 0, c - k * c, 0, k, c - k * c)  # so the centre c stays put
    return np.array(Image.fromarray(image).transform(image.shape[::-1], Image.Transform.AFFINE, inverse,
                                                     Image.Resampling.BILINEAR))


def thicken(image: np.ndarray) -> np.ndarray:
    """Grey dilation: each pixel becomes the brightest in its 3×3 neighbourhood (strokes ~2 px wider)."""
    return np.array(Image.fromarray(image).filter(ImageFilter.MaxFilter(3)))


def thin(image: np.ndarray) -> np.ndarray:
    """Grey erosion: each pixel becomes the darkest in its 3×3 neighbourhood (strokes ~2 px narrower)."""
    return np.array(Image.fromarray(image).filter(ImageFilter.MinFilter(3)))


VARIANTS: tuple[tuple[Message, Callable[[np.ndarray], np.ndarray]], ...] = (  # (what it is, in words; how)
    (Message("variant.original"), np.copy),
    (Message("variant.shifted_right", px=3), lambda im: shift(im, right=3)),
    (Message("variant.shifted_down", px=3), lambda im: shift(im, down=3)),
    (Message("variant.shifted_left", px=6), lambda im: shift(im, right=-6)),
    (Message("variant.rotated_anticlockwise", degrees=20), lambda im: rotate(im, 20)),
    (Message("variant.rotated_clockwise", degrees=20), lambda im: rotate(im, -20)),
    (Message("variant.rotated_anticlockwise", degrees=40), lambda im: rotate(im, 40)),
    (Message("variant.rotated_clockwise", degrees=40), lambda im: rotate(im, -40)),
    (Message("variant.scaled", percent=70), lambda im: scale(im, 0.7)),
    (Message("variant.scaled", percent=130), lambda im: scale(im, 1.3)),
    (Message("variant.thickened"), thicken),
    (Message("variant.thinned"), thin),
)


def _read(model: nn.Module, name: str, image: np.ndarray) -> Variant:
    answer = classify(model, normalise(torch.from_numpy(image)[None]))  # (1, 1, 28, 28)
    return Variant(name=name, image=image, digit=answer.digit, confidence=answer.confidence)


def robustness(model: nn.Module, centred: np.ndarray) -> list[Variant]:
    """The centred digit (28, 28) uint8 as it is and as each of VARIANTS changes it, each read by the model."""
    _eval_only(model)
    if centred.shape != (FIELD, FIELD) or centred.dtype != np.uint8:
        raise ValueError(f"robustness takes a (28, 28) uint8 digit, got {centred.dtype} {centred.shape}")
    return [_read(model, name, make(centred)) for name, make in VARIANTS]


def corner_case(model: nn.Module, centred: np.ndarray) -> tuple[Variant, Variant]:
    """The digit drawn small in the top-left of a 280×280 canvas, as a student might, then read after
    (a) squeezing the whole canvas to 28×28 (naive_resize) and (b) MNIST-style preprocessing (to_mnist)."""
    _eval_only(model)
    rows, cols = np.nonzero(centred)
    if not len(rows):
        raise NoDigitError(NO_DIGIT)
    ink = centred[rows.min():rows.max() + 1, cols.min():cols.max() + 1].astype(np.float32)
    small = np.clip(resize_longest(ink, CORNER_INK) + 0.5, 0, 255).astype(np.uint8)  # longer side 120 px
    canvas = np.zeros((CANVAS, CANVAS), np.uint8)
    canvas[CORNER_MARGIN:CORNER_MARGIN + small.shape[0], CORNER_MARGIN:CORNER_MARGIN + small.shape[1]] = small
    return (_read(model, Message("variant.naive"), naive_resize(canvas).centred),
            _read(model, Message("variant.mnist_style"), to_mnist(canvas).centred))
