"""Export a trained model as plain PyTorch: a folder with model.py, weights.pt and a README.

    python -m lenet export checkpoints/lenet5.pt --format pytorch --out lenet5/

model.py needs only torch. Its `load()` builds the network and loads the weights with
weights_only=True; the network takes MNIST's pixels as they come, a (B, 1, 28, 28) float tensor in
[0, 1] with white ink on black, and normalises inside, so its user needs none of our constants.
The source is written from the model's own layers (their kinds, sizes and names, so the
state_dict's keys match), with the shapes the layer table reads from a real pass as comments.
"""
from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .checkpoints import accuracy_of
from .data import MEAN, STD
from .files import write_atomic
from .inside.introspect import layer_table
from .shapes import LayerRow

__all__ = ["export_pytorch", "pytorch_files", "pytorch_source", "pytorch_zip"]


def _layer_code(layer: nn.Module) -> str:
    """The constructor call that makes an untrained copy of `layer`."""
    if isinstance(layer, nn.Conv2d):
        return (f"nn.Conv2d({layer.in_channels}, {layer.out_channels}, {layer.kernel_size[0]}, "
                f"stride={layer.stride[0]}, padding={layer.padding[0]})")
    if isinstance(layer, (nn.MaxPool2d, nn.AvgPool2d)):
        return f"nn.{type(layer).__name__}({layer.kernel_size}, stride={layer.stride})"
    if isinstance(layer, nn.ConstantPad2d):
        return f"nn.ConstantPad2d({layer.padding[0]}, {layer.value!r})"
    if isinstance(layer, nn.Linear):
        return f"nn.Linear({layer.in_features}, {layer.out_features})"
    if isinstance(layer, (nn.ReLU, nn.Tanh, nn.Sigmoid, nn.Flatten)):
        return f"nn.{type(layer).__name__}()"
    raise TypeError(f"can't write {type(layer).__name__} as plain PyTorch")


def _shapes(row: LayerRow) -> str:
    show = lambda shape: "(B, " + ", ".join(map(str, shape)) + ")"  # noqa: E731
    return f"{show(row.in_shape)} -> {show(row.out_shape)}"


def _block_lines(name: str, block: nn.Module, rows: dict[str, LayerRow]) -> list[str]:
    """`self.name = ...` for one of the model's top-level parts, with a shape comment per layer."""
    if not isinstance(block, nn.Sequential):
        return [f"        self.{name} = {_layer_code(block)}  # {_shapes(rows[name])}"]
    lines = [f"        self.{name} = nn.Sequential(OrderedDict(["]
    for child, layer in block.named_children():
        code = f'("{child}", {_layer_code(layer)}),'
        lines.append(f"            {code:<60}# {_shapes(rows[f'{name}.{child}'])}")
    return lines + ["        ]))"]


def pytorch_source(model: nn.Module, about: str) -> str:
    """model.py for `model` (a chain of top-level parts run in order, as every model here is)."""
    rows = {row.name: row for row in layer_table(model)}
    parts = list(model.named_children())
    init = [line for name, block in parts for line in _block_lines(name, block, rows)]
    steps = [f"        x = self.{name}(x)" for name, _ in parts]
    return "\n".join([
        f'"""{about}',
        "",
        "Exported by LeNet Lab; needs only torch. Use:",
        "",
        "    import model",
        "    net = model.load('weights.pt')",
        "    scores = net(images)  # images: (B, 1, 28, 28) floats in [0, 1], white ink on black",
        '"""',
        "from collections import OrderedDict",
        "",
        "import torch",
        "from torch import nn",
        "",
        f"MEAN, STD = {MEAN!r}, {STD!r}  # MNIST's pixel mean and spread: the net learned on (x - MEAN) / STD",
        "",
        "",
        "class Net(nn.Module):",
        "    def __init__(self):",
        "        super().__init__()",
        *init,
        "",
        "    def forward(self, x):",
        '        """x: (B, 1, 28, 28) in [0, 1], as MNIST\'s pixels / 255. Returns (B, 10) scores, one per digit."""',
        "        x = (x - MEAN) / STD",
        *steps,
        "        return x",
        "",
        "",
        'def load(path="weights.pt"):',
        '    """The trained network, in eval mode."""',
        "    net = Net()",
        "    net.load_state_dict(torch.load(path, map_location=\"cpu\", weights_only=True))",
        "    return net.eval()",
        "",
    ])


README = """# {name}, exported from LeNet Lab

{about}

- `model.py`: the network as plain PyTorch (only torch needed); `load()` returns it trained.
- `weights.pt`: its weights (a state_dict).

It takes MNIST's pixels as they come: a (B, 1, 28, 28) float tensor in [0, 1], white ink on black
(MNIST's own bytes divided by 255). It normalises inside.

## Evaluate it

```python
import torch, torchvision
import model

net = model.load("weights.pt")
test = torchvision.datasets.MNIST("data", train=False, download=True)
x = test.data.unsqueeze(1).float() / 255  # (10000, 1, 28, 28)
with torch.no_grad():
    accuracy = (net(x).argmax(1) == test.targets).float().mean().item()
print(f"{{accuracy:.2%}}")  # {accuracy}
```

## Fine-tune it

```python
net = model.load("weights.pt").train()
optimizer = torch.optim.AdamW(net.classifier.parameters(), lr=1e-3)  # or net.parameters(), for every layer
for images, labels in batches:  # your own: (B, 1, 28, 28) in [0, 1], and (B,) digits
    loss = torch.nn.functional.cross_entropy(net(images), labels)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
torch.save(net.state_dict(), "weights.pt")
```
"""


def pytorch_files(model: nn.Module, ckpt: dict[str, Any]) -> dict[str, bytes]:
    """model.py, weights.pt and README.md for a trained model, by file name."""
    name = ckpt["model"] + (f" {ckpt['config']['spec']}" if "spec" in ckpt.get("config", {}) else "")
    accuracy = accuracy_of(ckpt)
    split = "MNIST's test set" if ckpt.get("metrics", {}).get("eval_split", "test") == "test" else \
        "held-out training images"
    about = f"{name}: {sum(p.numel() for p in model.parameters()):,} parameters" + (
        f", {accuracy:.2%} on {split}" if accuracy is not None else "")
    weights = io.BytesIO()
    torch.save(model.state_dict(), weights)
    shown = f"{accuracy:.2%} when it was trained" if accuracy is not None else "not measured when it was trained"
    return {"model.py": pytorch_source(model, about).encode(), "weights.pt": weights.getvalue(),
            "README.md": README.format(name=name, about=about, accuracy=shown).encode()}


def export_pytorch(model: nn.Module, ckpt: dict[str, Any], out: Path) -> Path:
    """Write model.py, weights.pt and README.md into the folder `out`; returns it."""
    for name, data in pytorch_files(model, ckpt).items():
        write_atomic(out / name, data)
    return out


def pytorch_zip(model: nn.Module, ckpt: dict[str, Any], folder: str) -> bytes:
    """The same three files in a zip, inside `folder`/ (the app's "Download as PyTorch")."""
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in pytorch_files(model, ckpt).items():
            archive.writestr(f"{folder}/{name}", content)
    return data.getvalue()
