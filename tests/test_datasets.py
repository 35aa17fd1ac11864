"""Tests for dbn.datasets: the IDX reader and the MNIST loader."""

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from dbn.datasets import MNIST_FILES, load_idx, load_idx_dataset, load_mnist

MNIST_HOME = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"

_CODES = {
    np.dtype(np.uint8): 0x08,
    np.dtype(np.int8): 0x09,
    np.dtype(np.int16): 0x0B,
    np.dtype(np.int32): 0x0C,
    np.dtype(np.float32): 0x0D,
    np.dtype(np.float64): 0x0E,
}


def idx_bytes(array):
    """The IDX encoding of ``array``: magic, big-endian dims, big-endian data."""
    array = np.asarray(array)
    header = bytes([0, 0, _CODES[array.dtype], array.ndim])
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx(path, array, compress=False):
    data = idx_bytes(array)
    if compress:
        data = gzip.compress(data)
    Path(path).write_bytes(data)
    return path


def write_fake_mnist(directory, n_train=12, n_test=5, compress=True, seed=0):
    """Four small IDX files under MNIST's names; returns the arrays written."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train_images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train_labels": rng.integers(0, 10, n_train, dtype=np.uint8),
        "test_images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "test_labels": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    for key, array in arrays.items():
        name = MNIST_FILES[key] + (".gz" if compress else "")
        write_idx(Path(directory) / name, array, compress=compress)
    return arrays


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("dtype", list(_CODES))
def test_load_idx_round_trip(tmp_path, dtype, compress):
    rng = np.random.default_rng(0)
    array = (rng.standard_normal((3, 4, 5)) * 100).astype(dtype)
    # The name deliberately lies about compression: the bytes decide.
    path = write_idx(tmp_path / "a.idx", array, compress=compress)
    out = load_idx(path)
    assert out.dtype == dtype
    assert out.dtype.isnative
    assert out.shape == (3, 4, 5)
    np.testing.assert_array_equal(out, array)
    assert out.flags.writeable and out.flags.c_contiguous


@pytest.mark.parametrize("shape", [(7,), (0,), (2, 0, 3), (1, 1, 1, 1)])
def test_load_idx_shapes(tmp_path, shape):
    array = np.arange(int(np.prod(shape)), dtype=np.int32).reshape(shape)
    out = load_idx(write_idx(tmp_path / "a", array, compress=True))
    assert out.shape == shape
    np.testing.assert_array_equal(out, array)


def test_load_idx_bad_magic(tmp_path):
    data = bytearray(idx_bytes(np.zeros((2, 2), np.uint8)))
    data[2] = 0x07  # no such type code
    path = tmp_path / "bad"
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"bad\W*magic number 0x00000702") as info:
        load_idx(path)
    assert str(path) in str(info.value)

    path.write_bytes(b"PK\x03\x04" + bytes(16))  # a zip file, say
    with pytest.raises(ValueError, match="not an IDX file"):
        load_idx(path)


@pytest.mark.parametrize("compress", [False, True])
def test_load_idx_truncated(tmp_path, compress):
    data = idx_bytes(np.arange(100, dtype=np.int16).reshape(10, 10))
    path = tmp_path / "short"
    for cut in (3, 10, len(data) - 1):  # in the magic, the dims, the data
        short = data[:cut]
        path.write_bytes(gzip.compress(short) if compress else short)
        with pytest.raises(ValueError, match="truncated") as info:
            load_idx(path)
        assert str(path) in str(info.value)


def test_load_idx_cut_gzip_stream(tmp_path):
    data = gzip.compress(idx_bytes(np.arange(1000, dtype=np.uint8) % 7))
    path = tmp_path / "cut.gz"
    path.write_bytes(data[: len(data) // 2])  # an interrupted download
    with pytest.raises(ValueError, match="truncated") as info:
        load_idx(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("compress", [False, True])
def test_load_idx_trailing_data(tmp_path, compress):
    data = idx_bytes(np.zeros((4, 4), np.uint8)) + b"\x00"
    path = tmp_path / "long"
    path.write_bytes(gzip.compress(data) if compress else data)
    with pytest.raises(ValueError, match="wrong size") as info:
        load_idx(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("compress", [False, True])
def test_load_idx_dataset(tmp_path, compress):
    arrays = write_fake_mnist(tmp_path, compress=compress)
    data = load_idx_dataset(tmp_path)
    assert data.data.shape == (12, 784) and data.data_test.shape == (5, 784)
    assert data.data.dtype == np.float32 and data.target.dtype == np.int64
    assert data.image_shape == (28, 28)
    np.testing.assert_array_equal(
        data.data, arrays["train_images"].reshape(12, -1).astype(np.float32) / 255
    )
    np.testing.assert_array_equal(data.target, arrays["train_labels"])
    np.testing.assert_array_equal(data.target_test, arrays["test_labels"])

    X_train, y_train, X_test, y_test = load_idx_dataset(
        tmp_path, scale=False, return_X_y=True
    )
    assert X_train.dtype == np.uint8
    np.testing.assert_array_equal(X_test, arrays["test_images"].reshape(5, -1))


def test_load_idx_dataset_custom_names_and_mixed_compression(tmp_path):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (6, 4, 3), dtype=np.uint8)
    labels = np.arange(6, dtype=np.uint8)
    write_idx(tmp_path / "x-train.gz", images, compress=True)
    write_idx(tmp_path / "y-train", labels)
    write_idx(tmp_path / "x-test", images[:2])
    write_idx(tmp_path / "y-test.gz", labels[:2], compress=True)
    data = load_idx_dataset(
        tmp_path,
        # Asked for with and without ".gz", found either way.
        train_images="x-train",
        train_labels="y-train.gz",
        test_images="x-test",
        test_labels="y-test",
    )
    assert data.data.shape == (6, 12) and data.image_shape == (4, 3)
    np.testing.assert_array_equal(data.target_test, [0, 1])


def test_load_idx_dataset_missing_file(tmp_path):
    write_fake_mnist(tmp_path)
    (tmp_path / (MNIST_FILES["test_labels"] + ".gz")).unlink()
    with pytest.raises(FileNotFoundError, match=MNIST_FILES["test_labels"]):
        load_idx_dataset(tmp_path)


def test_load_idx_dataset_label_count_mismatch(tmp_path):
    write_fake_mnist(tmp_path)
    write_idx(
        tmp_path / (MNIST_FILES["train_labels"] + ".gz"), np.zeros(3, np.uint8), compress=True
    )
    with pytest.raises(ValueError, match="one label per image"):
        load_idx_dataset(tmp_path)


def test_load_mnist_missing_without_download(tmp_path, monkeypatch):
    monkeypatch.delenv("DBN_DATA_HOME", raising=False)
    with pytest.raises(FileNotFoundError) as info:
        load_mnist(tmp_path, download=False)
    message = str(info.value)
    for name in MNIST_FILES.values():
        assert name in message
    assert str(tmp_path) in message
    assert "DBN_DATA_HOME" in message and "data_home" in message

    # Nowhere to look at all: the message says how to say where.
    with pytest.raises(FileNotFoundError, match="DBN_DATA_HOME") as info:
        load_mnist(download=False)
    assert "train-images-idx3-ubyte" in str(info.value)


def test_load_mnist_partial_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("DBN_DATA_HOME", raising=False)
    write_fake_mnist(tmp_path)
    (tmp_path / (MNIST_FILES["train_images"] + ".gz")).unlink()
    # Even with download=True: a half-filled directory is a mistake to report,
    # not a reason to ignore the directory.
    with pytest.raises(FileNotFoundError, match="Only some MNIST files"):
        load_mnist(tmp_path, download=True)


def test_load_mnist_download_failure(tmp_path, monkeypatch):
    import sklearn.datasets

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(sklearn.datasets, "fetch_openml", offline)
    monkeypatch.delenv("DBN_DATA_HOME", raising=False)
    with pytest.raises(FileNotFoundError, match="network is unreachable") as info:
        load_mnist(tmp_path, download=True)
    assert "t10k-images-idx3-ubyte" in str(info.value)


def test_load_mnist_openml_split(monkeypatch):
    """The fallback splits OpenML's 70,000 rows into the standard 60,000 + 10,000."""
    import sklearn.datasets
    from sklearn.utils import Bunch

    X = np.repeat(np.arange(70_000) % 256, 2).reshape(70_000, 2).astype(np.float64)
    y = np.array([str(i % 10) for i in range(70_000)], dtype=object)
    seen = {}

    def fake_fetch_openml(name, **kwargs):
        seen.update(kwargs, name=name)
        return Bunch(data=X, target=y)

    monkeypatch.setattr(sklearn.datasets, "fetch_openml", fake_fetch_openml)
    monkeypatch.delenv("DBN_DATA_HOME", raising=False)
    data = load_mnist()
    assert seen["name"] == "mnist_784" and seen["as_frame"] is False
    assert data.data.shape == (60_000, 2) and data.data_test.shape == (10_000, 2)
    assert data.data.dtype == np.float32 and data.target.dtype == np.int64
    assert data.data_test[0, 0] == np.float32(60_000 % 256) / np.float32(255)
    np.testing.assert_array_equal(data.target_test[:3], [0, 1, 2])


def test_load_mnist_env_var(tmp_path, monkeypatch):
    arrays = write_fake_mnist(tmp_path, compress=False)
    monkeypatch.setenv("DBN_DATA_HOME", str(tmp_path))
    X_train, y_train, X_test, y_test = load_mnist(download=False, return_X_y=True)
    assert X_train.shape == (12, 784) and X_test.shape == (5, 784)
    np.testing.assert_array_equal(y_train, arrays["train_labels"])

    # An explicit data_home wins over the environment.
    other = tmp_path / "other"
    other.mkdir()
    write_fake_mnist(other, n_train=3, n_test=2)
    assert load_mnist(other, download=False).data.shape == (3, 784)


@pytest.fixture(scope="module")
def mnist():
    if not all((MNIST_HOME / (name + ".gz")).is_file() for name in MNIST_FILES.values()):
        pytest.skip(f"MNIST not found in {MNIST_HOME}")
    return load_mnist(MNIST_HOME, download=False)


def test_load_mnist_real(mnist):
    assert mnist.data.shape == (60_000, 784)
    assert mnist.data_test.shape == (10_000, 784)
    assert mnist.target.shape == (60_000,) and mnist.target_test.shape == (10_000,)
    for X in (mnist.data, mnist.data_test):
        assert X.dtype == np.float32 and X.flags.c_contiguous
        assert X.min() == 0.0 and X.max() == 1.0
    for y, n in ((mnist.target, 60_000), (mnist.target_test, 10_000)):
        assert y.dtype == np.int64
        counts = np.bincount(y, minlength=10)
        assert len(counts) == 10
        # The rarest digit (5) is 9.0% of MNIST's training set, the most
        # common (1) 11.2%; the same in the test set.
        assert counts.min() > 0.085 * n and counts.max() < 0.12 * n
    # Known counts of the standard split (LeCun's page).
    assert np.bincount(mnist.target)[1] == 6742
    assert np.bincount(mnist.target_test)[5] == 892
    assert mnist.image_shape == (28, 28)
    assert "MNIST" in mnist.DESCR
