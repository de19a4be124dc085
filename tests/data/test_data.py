"""Every loader on tiny files written here in the real on-disk formats."""

from __future__ import annotations

import datetime
import gzip
import pickle
import random
import time

import numpy as np
import pytest
import torch

from pipeline.data import DATASETS, DataError, Split, default_data_dir, drop_val_split, load_dataset, random_crop_flip
from pipeline.data import cifar as cifar_mod
from pipeline.data import mnist as mnist_mod
from pipeline.data import mnist1d as mnist1d_mod
from pipeline.data.digits import stratified_split
from pipeline.io import fingerprint

MNIST1D_TRAIN_FINGERPRINT = "8df2f43c06be553bab2c5fcab62901f20f86e849adec1fbf34fa0d9e9916b566"

# Test-split labels with a hand-computed DRoP split: class 3 at 0,1,3,8 -> val 0,1;
# class 1 at 2,4,9 -> val 2; class 0 at 5,6,7 -> val 5.
Y_TEST = np.array([3, 3, 1, 3, 1, 0, 0, 0, 3, 1])
VAL_IDX = np.array([0, 1, 2, 5])
TEST_IDX = np.array([3, 4, 6, 7, 8, 9])


def test_drop_val_split_hand_case():
    val, test = drop_val_split(Y_TEST)
    np.testing.assert_array_equal(val, VAL_IDX)
    np.testing.assert_array_equal(test, TEST_IDX)
    assert val.dtype == test.dtype == np.int64


def test_drop_val_split_edge_cases():
    val, test = drop_val_split(np.array([], dtype=np.int64))
    assert len(val) == len(test) == 0
    val, test = drop_val_split(np.array([7]))  # a single sample stays in test
    np.testing.assert_array_equal(test, [0])
    y = np.random.RandomState(0).randint(0, 5, size=101)
    val, test = drop_val_split(y)
    np.testing.assert_array_equal(np.sort(np.concatenate([val, test])), np.arange(101))
    for k in range(5):
        assert (y[val] == k).sum() == (y == k).sum() // 2


def test_unknown_name_lists_valid_ones():
    with pytest.raises(DataError, match="unknown data set 'imagenet'.*mnist1d.*imagefolder"):
        load_dataset("imagenet")


def test_default_data_dir_follows_env(monkeypatch, tmp_path):
    monkeypatch.setenv("PRUNE_DATA_DIR", str(tmp_path))
    assert default_data_dir() == tmp_path
    monkeypatch.delenv("PRUNE_DATA_DIR")
    assert default_data_dir().parts[-2:] == (".cache", "prune")


# ---------------------------------------------------------------- CIFAR


def _images(n: int, seed: int) -> np.ndarray:
    return np.random.RandomState(seed).randint(0, 256, size=(n, 3 * 32 * 32)).astype(np.uint8)


def _dump(path, obj, protocol=2):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=protocol)


def write_cifar10(root, test_labels=Y_TEST):
    folder = root / "cifar-10-batches-py"
    train_x, train_y = _images(20, 0), np.arange(20) % 10
    for i in range(5):
        sl = slice(4 * i, 4 * i + 4)
        batch = {b"batch_label": b"training batch", b"labels": train_y[sl].tolist(), b"data": train_x[sl]}
        _dump(folder / f"data_batch_{i + 1}", batch)
    test_x = _images(len(test_labels), 1)
    _dump(folder / "test_batch", {b"labels": list(test_labels), b"data": test_x})
    names = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"]
    _dump(folder / "batches.meta", {b"label_names": names, b"num_vis": 3072, b"num_cases_per_batch": 4})
    return train_x, train_y, test_x


def write_cifar100(root):
    folder = root / "cifar-100-python"
    train_x, train_y = _images(20, 2), (np.arange(20) * 7) % 100
    _dump(folder / "train", {b"data": train_x, b"fine_labels": train_y.tolist(), b"coarse_labels": [0] * 20}, 5)
    test_x = _images(10, 3)
    _dump(folder / "test", {b"data": test_x, b"fine_labels": (Y_TEST * 30).tolist(), b"coarse_labels": [0] * 10}, 5)
    names = [f"class{k:02d}".encode() for k in range(100)]
    _dump(folder / "meta", {b"fine_label_names": names, b"coarse_label_names": [b"x"] * 20}, 5)
    return train_x, train_y, test_x


def _expected_pixel(raw: np.ndarray, i: int, c: int, r: int, col: int, mean, std) -> float:
    return (raw[i, c * 1024 + r * 32 + col] / 255.0 - mean[c]) / std[c]


def test_cifar10_loader(tmp_path):
    train_x, train_y, test_x = write_cifar10(tmp_path)
    b = load_dataset("cifar10", data_dir=tmp_path)
    assert b.name == "cifar10" and b.input_shape == (3, 32, 32)
    assert b.classes[:3] == ["airplane", "automobile", "bird"] and len(b.classes) == 10
    assert (len(b.train), len(b.val), len(b.test)) == (20, 4, 6)
    np.testing.assert_array_equal(b.train.y, train_y)
    np.testing.assert_array_equal(b.val.y, Y_TEST[VAL_IDX])
    np.testing.assert_array_equal(b.test.y, Y_TEST[TEST_IDX])
    assert b.train.x.dtype == torch.uint8  # normalised per batch, not stored as float

    x = b.train.take(np.array([13, 2]))
    assert x.shape == (2, 3, 32, 32) and x.dtype == torch.float32
    mean, std = cifar_mod.MEAN["cifar10"], cifar_mod.STD["cifar10"]
    assert x[0, 1, 5, 7].item() == pytest.approx(_expected_pixel(train_x, 13, 1, 5, 7, mean, std), abs=1e-5)
    assert x[1, 2, 31, 0].item() == pytest.approx(_expected_pixel(train_x, 2, 2, 31, 0, mean, std), abs=1e-5)
    # val sample 3 is test-batch image 5; test sample 0 is test-batch image 3.
    assert b.val.take(np.array([3]))[0, 0, 4, 4].item() == pytest.approx(
        _expected_pixel(test_x, 5, 0, 4, 4, mean, std), abs=1e-5)
    assert b.test.take(np.array([0]))[0, 2, 9, 30].item() == pytest.approx(
        _expected_pixel(test_x, 3, 2, 9, 30, mean, std), abs=1e-5)
    assert b.augment is not None


def test_cifar100_loader(tmp_path):
    train_x, train_y, _ = write_cifar100(tmp_path)
    b = load_dataset("cifar100", data_dir=tmp_path)
    assert len(b.classes) == 100 and b.classes[7] == "class07"
    np.testing.assert_array_equal(b.train.y, train_y)
    np.testing.assert_array_equal(b.val.y, (Y_TEST * 30)[VAL_IDX])
    mean, std = cifar_mod.MEAN["cifar100"], cifar_mod.STD["cifar100"]
    x = b.train.take(np.array([19]))
    assert x[0, 0, 0, 0].item() == pytest.approx(_expected_pixel(train_x, 19, 0, 0, 0, mean, std), abs=1e-5)


def test_cifar_missing_directory(tmp_path):
    with pytest.raises(DataError, match=r"expected .*cifar-10-batches-py.*--download"):
        load_dataset("cifar10", data_dir=tmp_path / "nowhere")


@pytest.mark.parametrize("damage", ["garbage", "truncated", "foreign_object", "wrong_shape"])
def test_cifar_corrupt_pickle(tmp_path, damage):
    write_cifar10(tmp_path)
    path = tmp_path / "cifar-10-batches-py" / "data_batch_3"
    if damage == "garbage":
        path.write_bytes(b"this is not a pickle")
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:500])
    elif damage == "foreign_object":  # anything but arrays/lists/strings is refused, never constructed
        _dump(path, {b"data": datetime.date(2020, 1, 1), b"labels": [0]})
    else:
        _dump(path, {b"data": np.zeros((4, 100), np.uint8), b"labels": [0, 1, 2, 3]})
    with pytest.raises(DataError, match="corrupt CIFAR file .*data_batch_3"):
        load_dataset("cifar10", data_dir=tmp_path)


def test_cifar_labels_out_of_range(tmp_path):
    write_cifar10(tmp_path, test_labels=np.array([0, 1, 10, 2]))
    with pytest.raises(DataError, match="label 10 is out of range 0..9"):
        load_dataset("cifar10", data_dir=tmp_path)


# ---------------------------------------------------------------- MNIST idx


def idx_bytes(array: np.ndarray) -> bytes:
    header = (0x800 + array.ndim).to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_idx_set(root, folder, gz, n_train=20, n_test=10):
    raw = root / folder / "raw"
    raw.mkdir(parents=True)
    rng = np.random.RandomState(4)
    arrays = {
        "train-images-idx3-ubyte": rng.randint(0, 256, (n_train, 28, 28)),
        "train-labels-idx1-ubyte": np.arange(n_train) % 10,
        "t10k-images-idx3-ubyte": rng.randint(0, 256, (n_test, 28, 28)),
        "t10k-labels-idx1-ubyte": Y_TEST[:n_test],
    }
    for stem, arr in arrays.items():
        data = idx_bytes(arr)
        if gz:
            (raw / f"{stem}.gz").write_bytes(gzip.compress(data))
        else:
            (raw / stem).write_bytes(data)
    return arrays


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gz"])
@pytest.mark.parametrize("name,folder", [("mnist", "MNIST"), ("fashionmnist", "FashionMNIST")])
def test_mnist_loaders(tmp_path, name, folder, gz):
    arrays = write_idx_set(tmp_path, folder, gz)
    b = load_dataset(name, data_dir=tmp_path)
    assert b.input_shape == (1, 28, 28) and b.augment is None
    assert (len(b.train), len(b.val), len(b.test)) == (20, 4, 6)
    np.testing.assert_array_equal(b.train.y, arrays["train-labels-idx1-ubyte"])
    np.testing.assert_array_equal(b.val.y, Y_TEST[VAL_IDX])
    assert b.classes[0] == ("0" if name == "mnist" else "T-shirt/top")
    mean, std = mnist_mod.MEAN[name][0], mnist_mod.STD[name][0]
    x = b.train.take(np.array([11]))
    assert x.shape == (1, 1, 28, 28)
    expected = (arrays["train-images-idx3-ubyte"][11, 3, 17] / 255.0 - mean) / std
    assert x[0, 0, 3, 17].item() == pytest.approx(expected, abs=1e-5)
    expected = (arrays["t10k-images-idx3-ubyte"][TEST_IDX[2], 20, 1] / 255.0 - mean) / std
    assert b.test.take(np.array([2]))[0, 0, 20, 1].item() == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gz"])
def test_idx_truncated(tmp_path, gz):
    write_idx_set(tmp_path, "MNIST", gz)
    name = "train-images-idx3-ubyte" + (".gz" if gz else "")
    path = tmp_path / "MNIST" / "raw" / name
    if gz:
        path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes())[:-30]))
    else:
        path.write_bytes(path.read_bytes()[:-30])
    with pytest.raises(DataError, match=f"corrupt idx file .*{name}.*truncated"):
        load_dataset("mnist", data_dir=tmp_path)


def test_idx_broken_gzip_and_bad_magic(tmp_path):
    write_idx_set(tmp_path, "MNIST", gz=True)
    path = tmp_path / "MNIST" / "raw" / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:15])
    with pytest.raises(DataError, match="corrupt idx file .*t10k-labels"):
        load_dataset("mnist", data_dir=tmp_path)
    path.write_bytes(gzip.compress(idx_bytes(np.zeros((10, 2, 2)))))  # an images file where labels belong
    with pytest.raises(DataError, match="magic number 0x00000803, expected 0x00000801"):
        load_dataset("mnist", data_dir=tmp_path)


def test_mnist_missing_files(tmp_path):
    with pytest.raises(DataError, match=r"expected .*MNIST/raw/train-images-idx3-ubyte.*--download"):
        load_dataset("mnist", data_dir=tmp_path)


def test_mnist_labels_out_of_range(tmp_path):
    write_idx_set(tmp_path, "FashionMNIST", gz=False)
    labels = np.arange(20) % 10
    labels[4] = 12
    (tmp_path / "FashionMNIST" / "raw" / "train-labels-idx1-ubyte").write_bytes(idx_bytes(labels))
    with pytest.raises(DataError, match="train label 12 is out of range"):
        load_dataset("fashionmnist", data_dir=tmp_path)


# ---------------------------------------------------------------- image folders


def _png(path, array):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array.astype(np.uint8), "RGB").save(path)


def test_imagefolder_png(tmp_path):
    rng = np.random.RandomState(5)
    first = rng.randint(0, 256, (6, 5, 3))  # H=6, W=5 sets the size
    _png(tmp_path / "train" / "bee" / "b.png", rng.randint(0, 256, (6, 5, 3)))
    _png(tmp_path / "train" / "ant" / "z.png", rng.randint(0, 256, (6, 5, 3)))
    _png(tmp_path / "train" / "ant" / "a.png", first)
    _png(tmp_path / "train" / "cat" / "c.png", rng.randint(0, 256, (12, 9, 3)))  # resized to 6x5
    (tmp_path / "train" / "cat" / "notes.txt").write_text("not an image")
    val_images = {}
    for cls, names in {"ant": ["v1.png", "v2.png"], "cat": ["v3.png", "v4.png", "v5.png"]}.items():
        for n in names:
            val_images[n] = rng.randint(0, 256, (6, 5, 3))
            _png(tmp_path / "val" / cls / n, val_images[n])

    b = load_dataset("imagefolder", data_dir=tmp_path)
    assert b.classes == ["ant", "bee", "cat"]
    assert b.input_shape == (3, 6, 5)
    assert [p.name for p in b.train.files] == ["a.png", "z.png", "b.png", "c.png"]
    np.testing.assert_array_equal(b.train.y, [0, 0, 1, 2])
    # val/ plays the test split: ant [v1, v2] -> val v1; cat [v3, v4, v5] -> val v3.
    assert [p.name for p in b.val.files] == ["v1.png", "v3.png"]
    assert [p.name for p in b.test.files] == ["v2.png", "v4.png", "v5.png"]
    np.testing.assert_array_equal(b.test.y, [0, 2, 2])

    x = b.train.take(np.array([0, 3]))
    assert x.shape == (2, 3, 6, 5) and x.dtype == torch.float32
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    for c in range(3):
        assert x[0, c, 4, 2].item() == pytest.approx((first[4, 2, c] / 255 - mean[c]) / std[c], abs=1e-5)
    assert b.test.take(np.array([1]))[0, 1, 0, 0].item() == pytest.approx(
        (val_images["v4.png"][0, 0, 1] / 255 - mean[1]) / std[1], abs=1e-5)
    assert b.augment(x, torch.Generator().manual_seed(0)).shape == x.shape


def test_imagefolder_tiny_imagenet_layout(tmp_path):
    from PIL import Image

    rng = np.random.RandomState(6)
    for wnid in ("n02", "n01"):
        for i in range(3):
            path = tmp_path / "train" / wnid / "images" / f"{wnid}_{i}.JPEG"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.randint(0, 256, (64, 64, 3)).astype(np.uint8)).save(path, "JPEG")
        (tmp_path / "train" / wnid / f"{wnid}_boxes.txt").write_text("ignored\n")
    (tmp_path / "val" / "images").mkdir(parents=True)
    rows = [("val_0.JPEG", "n02"), ("val_1.JPEG", "n01"), ("val_2.JPEG", "n02"), ("val_3.JPEG", "n01"),
            ("val_4.JPEG", "n02")]
    for name, _ in rows:
        Image.fromarray(rng.randint(0, 256, (64, 64, 3)).astype(np.uint8)).save(tmp_path / "val" / "images" / name)
    (tmp_path / "val" / "val_annotations.txt").write_text("".join(f"{n}\t{c}\t0\t0\t63\t63\n" for n, c in rows))

    b = load_dataset("imagefolder", data_dir=tmp_path)
    assert b.classes == ["n01", "n02"] and b.input_shape == (3, 64, 64)
    np.testing.assert_array_equal(b.train.y, [0, 0, 0, 1, 1, 1])
    # test order is (class, file): n01 [val_1, val_3], n02 [val_0, val_2, val_4]
    assert [p.name for p in b.val.files] == ["val_1.JPEG", "val_0.JPEG"]
    assert [p.name for p in b.test.files] == ["val_3.JPEG", "val_2.JPEG", "val_4.JPEG"]
    assert b.test.take(np.array([0, 2])).shape == (2, 3, 64, 64)


def test_imagefolder_errors(tmp_path):
    with pytest.raises(DataError, match="imagefolder needs --data-dir"):
        load_dataset("imagefolder")
    with pytest.raises(DataError, match=r"expected .*train \(not found\)"):
        load_dataset("imagefolder", data_dir=tmp_path)
    _png(tmp_path / "train" / "a" / "x.png", np.zeros((4, 4, 3)))
    _png(tmp_path / "val" / "b" / "y.png", np.zeros((4, 4, 3)))
    with pytest.raises(DataError, match="val class 'b'.*no train/b folder"):
        load_dataset("imagefolder", data_dir=tmp_path)
    (tmp_path / "val" / "b" / "y.png").unlink()
    (tmp_path / "val" / "b").rmdir()
    (tmp_path / "val" / "a").mkdir()
    (tmp_path / "val" / "a" / "broken.png").write_bytes(b"\x89PNG not really")
    b = load_dataset("imagefolder", data_dir=tmp_path)  # files are read lazily
    with pytest.raises(DataError, match="cannot read image .*broken.png"):
        b.test.take(np.array([0]))


def test_hostile_image_folders_are_one_line(tmp_path):
    """A decompression bomb, an annotation line pointing outside the folder, and --data-dir naming a file."""
    from PIL import Image

    _png(tmp_path / "train" / "a" / "x.png", np.zeros((4, 4, 3)))
    _png(tmp_path / "val" / "a" / "v.png", np.zeros((4, 4, 3)))
    bomb = tmp_path / "train" / "a" / "bomb.png"
    Image.new("1", (20000, 20000)).save(bomb)  # 400 M pixels in a few kB: PIL refuses past 2 × its limit
    with pytest.raises(DataError, match=r"bomb\.png would decompress to more than") as err:
        b = load_dataset("imagefolder", data_dir=tmp_path)
        b.train.take(np.arange(len(b.train)))
    assert "\n" not in str(err.value)
    bomb.unlink()
    (tmp_path / "val" / "a" / "v.png").unlink()
    (tmp_path / "val" / "a").rmdir()
    (tmp_path / "val" / "images").mkdir(parents=True)
    (tmp_path / "secret.png").write_bytes(b"not yours")
    (tmp_path / "val" / "val_annotations.txt").write_text("../../secret.png\ta\n")
    with pytest.raises(DataError, match=r"line 1 names '\.\./\.\./secret\.png', outside"):
        load_dataset("imagefolder", data_dir=tmp_path)
    with pytest.raises(DataError, match="is a file; it names the folder"):
        load_dataset("digits", data_dir=tmp_path / "secret.png")


# ---------------------------------------------------------------- augmentation


def _valid_crops(img: torch.Tensor, pad: int = 4):
    padded = torch.nn.functional.pad(img, (pad, pad, pad, pad))
    h, w = img.shape[-2:]
    for dy in range(2 * pad + 1):
        for dx in range(2 * pad + 1):
            crop = padded[:, dy : dy + h, dx : dx + w]
            yield (dy, dx, False), crop
            yield (dy, dx, True), crop.flip(-1)


def test_random_crop_flip_is_a_crop_of_the_padded_image():
    x = torch.arange(16 * 3 * 8 * 8, dtype=torch.float32).reshape(16, 3, 8, 8) + 1  # no pixel is 0 = padding
    out = random_crop_flip(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.dtype == x.dtype
    draws = []
    for i in range(len(x)):
        matches = [d for d, crop in _valid_crops(x[i]) if torch.equal(crop, out[i])]
        assert len(matches) == 1, f"sample {i} is not a crop (+flip) of its padded input"
        draws.append(matches[0])
    assert {d[2] for d in draws} == {False, True}
    assert len({d[:2] for d in draws}) > 4


def test_random_crop_flip_known_draw():
    x = torch.arange(1, 2 * 1 * 5 * 6 + 1, dtype=torch.float32).reshape(2, 1, 5, 6)
    g = torch.Generator().manual_seed(3)
    out = random_crop_flip(x, g, padding=2)
    # Replay the draws in the documented order (dy, dx, flip) and crop by hand.
    g = torch.Generator().manual_seed(3)
    dy, dx = torch.randint(0, 5, (2,), generator=g), torch.randint(0, 5, (2,), generator=g)
    flip = torch.randint(0, 2, (2,), generator=g)
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for i in range(2):
        crop = padded[i, :, dy[i] : dy[i] + 5, dx[i] : dx[i] + 6]
        torch.testing.assert_close(out[i], crop.flip(-1) if flip[i] else crop, rtol=0, atol=0)


def test_random_crop_flip_is_deterministic_per_seed():
    x = torch.randn(32, 3, 32, 32)
    a = random_crop_flip(x, torch.Generator().manual_seed(7))
    b = random_crop_flip(x, torch.Generator().manual_seed(7))
    c = random_crop_flip(x, torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)


# ---------------------------------------------------------------- digits


def test_digits():
    b = load_dataset("digits")
    assert b.input_shape == (1, 8, 8) and b.classes == [str(k) for k in range(10)]
    n = len(b.train) + len(b.val) + len(b.test)
    assert n == 1797 and (len(b.train), len(b.val), len(b.test)) == (1438, 178, 181)
    x = b.train.take(np.arange(len(b.train)))
    assert x.shape == (1438, 1, 8, 8)
    assert abs(x.mean().item()) < 1e-5 and x.std().item() == pytest.approx(1.0, abs=1e-3)
    b2 = load_dataset("digits")
    np.testing.assert_array_equal(b.train.y, b2.train.y)
    assert torch.equal(b.test.take(np.arange(5)), b2.test.take(np.arange(5)))


def test_stratified_split_counts():
    y = np.repeat(np.arange(3), [10, 7, 3])
    train, test = stratified_split(y, 0.2, seed=0)
    assert [int((y[test] == k).sum()) for k in range(3)] == [2, 1, 1]
    np.testing.assert_array_equal(np.sort(np.concatenate([train, test])), np.arange(20))
    assert np.all(np.diff(train) > 0) and np.all(np.diff(test) > 0)


# ---------------------------------------------------------------- MNIST-1D


@pytest.fixture(scope="module")
def mnist1d_full(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("mnist1d")
    return data_dir, load_dataset("mnist1d", data_dir=data_dir)


def test_mnist1d_shapes(mnist1d_full):
    data_dir, b = mnist1d_full
    assert b.input_shape == (1, 40) and b.classes == [str(k) for k in range(10)]
    # 4,000 generated test samples; six classes have an odd count, so floor halves give 1,997 val.
    assert (len(b.train), len(b.val), len(b.test)) == (16000, 1997, 2003)
    assert np.bincount(b.train.y).min() > 1500
    x = b.train.take(np.array([0, 15999]))
    assert x.shape == (2, 1, 40) and x.dtype == torch.float32
    assert b.augment is None
    files = [p.name for p in data_dir.iterdir()]
    assert files == [mnist1d_mod.cache_path(data_dir).name]  # no temporary file left behind
    assert "n20000_seed42" in files[0]
    # the digest every existing MNIST-1D run carries (computed before data identities existed): unchanged
    assert b.identity == ""
    assert fingerprint("mnist1d", "train", b.train.y) == MNIST1D_TRAIN_FINGERPRINT


def test_mnist1d_cache_is_used(mnist1d_full, monkeypatch):
    data_dir, first = mnist1d_full

    def fail():
        raise AssertionError("generator called despite a cache")

    monkeypatch.setattr(mnist1d_mod, "generate", fail)
    again = load_dataset("mnist1d", data_dir=data_dir)
    np.testing.assert_array_equal(first.train.y, again.train.y)
    assert torch.equal(first.test.take(np.arange(50)), again.test.take(np.arange(50)))


@pytest.fixture
def small_mnist1d(monkeypatch):
    monkeypatch.setattr(mnist1d_mod, "NUM_SAMPLES", 200)


def test_mnist1d_deterministic_and_rng_untouched(tmp_path, small_mnist1d):
    np.random.seed(123)
    random.seed(123)
    np_before, py_before = np.random.get_state(), random.getstate()
    a = load_dataset("mnist1d", data_dir=tmp_path / "a")
    np_after, py_after = np.random.get_state(), random.getstate()
    assert np_before[0] == np_after[0] and np.array_equal(np_before[1], np_after[1]) and np_before[2:] == np_after[2:]
    assert py_before == py_after
    b = load_dataset("mnist1d", data_dir=tmp_path / "b")  # generated afresh elsewhere
    assert (len(a.train), len(a.val) + len(a.test)) == (160, 40)
    np.testing.assert_array_equal(a.train.y, b.train.y)
    assert torch.equal(a.train.take(np.arange(160)), b.train.take(np.arange(160)))


def test_mnist1d_corrupt_cache_is_regenerated(tmp_path, small_mnist1d):
    fresh = load_dataset("mnist1d", data_dir=tmp_path)
    path = mnist1d_mod.cache_path(tmp_path)
    path.write_bytes(path.read_bytes()[:100])
    again = load_dataset("mnist1d", data_dir=tmp_path)
    assert torch.equal(fresh.train.take(np.arange(10)), again.train.take(np.arange(10)))
    with np.load(path) as f:  # the damaged cache was rewritten whole
        assert f["x_train"].shape == (160, 1, 40)


def test_mnist1d_cache_speed(tmp_path, small_mnist1d):
    t0 = time.perf_counter()
    load_dataset("mnist1d", data_dir=tmp_path)
    t1 = time.perf_counter()
    load_dataset("mnist1d", data_dir=tmp_path)
    t2 = time.perf_counter()
    assert t2 - t1 < t1 - t0


# ---------------------------------------------------------------- Split


def test_split_take_fancy_index_and_subset():
    x = torch.arange(24, dtype=torch.uint8).reshape(6, 1, 2, 2)
    s = Split(y=np.array([0, 1, 0, 1, 0, 1]), x=x, mean=(0.5,), std=(0.25,))
    out = s.take(np.array([5, 0, 5]))
    expected = (x[[5, 0, 5]].float() / 255 - 0.5) / 0.25
    torch.testing.assert_close(out, expected)
    sub = s.subset(np.array([4, 1]))
    np.testing.assert_array_equal(sub.y, [0, 1])
    torch.testing.assert_close(sub.take(np.array([1])), s.take(np.array([1])))
    with pytest.raises(ValueError):
        Split(y=np.zeros(2))


def test_split_take_accepts_a_tensor_of_ids_and_stays_put_on_the_cpu():
    from pipeline.engine.loop import resident

    x = torch.arange(24, dtype=torch.uint8).reshape(6, 1, 2, 2)
    s = Split(y=np.array([0, 1, 0, 1, 0, 1]), x=x, mean=(0.5,), std=(0.25,))
    torch.testing.assert_close(s.take(torch.tensor([5, 0, 5])), s.take(np.array([5, 0, 5])))
    assert s.to(torch.device("cpu")) is s
    assert resident(s, torch.device("cpu")) is s  # only a GPU gets a resident copy


@pytest.mark.parametrize("name", [n for n in DATASETS if n not in ("mnist1d", "digits")])
def test_file_based_loaders_name_the_missing_path(tmp_path, name):
    spec = f"{name}:missing" if DATASETS[name].argument else name  # npz:PATH, hf:PATH read PATH under --data-dir
    with pytest.raises(DataError, match=f"expected {tmp_path}"):
        load_dataset(spec, data_dir=tmp_path)


# ---------------------------------------------------------------- the registry


@pytest.mark.parametrize("name", DATASETS)
def test_every_data_set_entry_is_documented_and_names_its_loader(name):
    import importlib

    entry = DATASETS[name]
    assert entry.name == name == name.lower()
    assert entry.summary and entry.files and "\n" not in entry.summary
    module = importlib.import_module(entry.loader.__module__)
    assert module.__name__.startswith("pipeline.data.") and entry.loader is module.load


@pytest.mark.parametrize("name", DATASETS)
def test_load_dataset_calls_the_entrys_loader(name, monkeypatch, tmp_path):
    import dataclasses

    calls = []
    if DATASETS[name].argument:  # npz:PATH: the loader gets PATH first, exactly as written (its case kept)
        fake = dataclasses.replace(DATASETS[name], load=lambda arg, root, download: calls.append((arg, root, download)) or "bundle")
        spec, first = f"{name.upper()}:Some/File", ("Some/File",)
    else:
        fake = dataclasses.replace(DATASETS[name], load=lambda root, download: calls.append((root, download)) or "bundle")
        spec, first = name.upper(), ()
    monkeypatch.setitem(DATASETS._entries, name, fake)  # the registry as it is, with one entry swapped
    monkeypatch.setenv("PRUNE_DATA_DIR", str(tmp_path / "default"))
    assert load_dataset(spec, data_dir=tmp_path, download=True) == "bundle"
    assert load_dataset(f"{name}:Some/File" if first else name) == "bundle"
    assert calls == [(*first, tmp_path, True), (*first, tmp_path / "default" if fake.default_dir else None, False)]


@pytest.mark.parametrize("name", ["imagenet", "", "cifar"])
def test_unknown_data_set_is_one_line_listing_the_registry(name):
    with pytest.raises(DataError) as err:
        load_dataset(name)
    assert str(err.value) == f"unknown data set '{name}'; valid: " + ", ".join(e.usage for e in DATASETS.values())


def test_data_help_lists_the_registry():
    from pipeline.data import data_help

    text = data_help()
    assert "\n" not in text and text.startswith("mnist1d (embedded, no download)")
    for entry in DATASETS.values():
        assert f"{entry.usage} ({entry.summary})" in text
        assert "[" not in entry.summary  # rich would read [brackets] in --help as markup and drop them
