"""Loading MNIST and other data sets stored in the IDX format.

The IDX format is the one MNIST is distributed in (LeCun et al.): a four-byte
magic number ``0x00 0x00 <dtype code> <number of dimensions>``, one big-endian
``uint32`` per dimension, then the values in C order, big-endian.  Fashion-MNIST,
EMNIST and Kuzushiji-MNIST use the same format and the same four-file layout
(training images and labels, test images and labels), so
:func:`load_idx_dataset` reads all of them and :func:`load_mnist` is that
loader with MNIST's file names and a download fallback.

Images come back flattened to ``(n_samples, n_pixels)`` and, by default,
scaled to ``[0, 1]`` as float32: the visible units of a Bernoulli RBM read
pixel intensities as probabilities (Hinton, Osindero & Teh 2006, section 6).
"""

import gzip
import os
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

__all__ = ["load_idx", "load_idx_dataset", "load_mnist"]

#: IDX dtype code -> big-endian NumPy dtype.
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_GZIP_MAGIC = b"\x1f\x8b"

#: MNIST's file names, as distributed (without the ``.gz``).
MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

_MNIST_N_TRAIN = 60_000
_MNIST_N_TEST = 10_000

_MNIST_DESCR = """\
MNIST handwritten digits (LeCun, Bottou, Bengio & Haffner 1998).

70,000 greyscale images of 28 x 28 pixels, split into the standard 60,000
training and 10,000 test images.  Pixels are flattened in row-major order.
"""


def _open(path):
    """Open ``path`` for binary reading, through gzip if its bytes say so.

    The magic bytes decide, not the file name: files are often stored
    decompressed under their ``.gz`` name or the other way round.
    """
    f = open(path, "rb")
    try:
        head = f.read(2)
        f.seek(0)
    except BaseException:
        f.close()
        raise
    if head == _GZIP_MAGIC:
        return gzip.GzipFile(fileobj=f, mode="rb"), f
    return f, f


def _read_exactly(f, n, path, what):
    """Read exactly ``n`` bytes or raise a ValueError naming ``path``."""
    buf = f.read(n)
    if len(buf) != n:
        raise ValueError(
            f"{path}: truncated IDX file: expected {n} bytes of {what}, found {len(buf)}"
        )
    return buf


def load_idx(path):
    """Read one file in the IDX format.

    Parameters
    ----------
    path : str or path-like
        File to read, gzip-compressed or not.  Compression is detected from
        the file's first bytes, not from its name.

    Returns
    -------
    array : ndarray
        Array with the shape stored in the file and the dtype its type code
        names (``uint8``, ``int8``, ``int16``, ``int32``, ``float32`` or
        ``float64``), in native byte order.  The array is writable and owns
        its memory.

    Raises
    ------
    ValueError
        If the magic number is not that of an IDX file, or if the data are
        shorter or longer than the dimensions in the header say.  The message
        names the file.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from dbn.datasets import load_idx
    >>> path = os.path.join(tempfile.mkdtemp(), "tiny-idx2-ubyte")
    >>> with open(path, "wb") as f:
    ...     _ = f.write(bytes([0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6]))
    >>> load_idx(path)
    array([[1, 2, 3],
           [4, 5, 6]], dtype=uint8)
    """
    path = os.fspath(path)
    stream, raw = _open(path)
    try:
        try:
            magic = _read_exactly(stream, 4, path, "magic number")
            if magic[0] != 0 or magic[1] != 0 or magic[2] not in _IDX_DTYPES:
                raise ValueError(
                    f"{path}: not an IDX file: bad magic number 0x{magic.hex()} "
                    "(expected 0x0000TTNN with type code TT in "
                    "08, 09, 0b, 0c, 0d, 0e and NN dimensions)"
                )
            dtype = _IDX_DTYPES[magic[2]]
            ndim = magic[3]
            header = _read_exactly(stream, 4 * ndim, path, "dimensions")
            shape = tuple(int(d) for d in np.frombuffer(header, dtype=">u4"))

            n_bytes = dtype.itemsize * int(np.prod(shape, dtype=np.int64))
            if stream is raw:
                # Check before allocating: a corrupt header can ask for
                # terabytes.  (A gzip stream's length is unknown up front.)
                n_data = os.fstat(raw.fileno()).st_size - 4 - 4 * ndim
                if n_data != n_bytes:
                    problem = (
                        "truncated IDX file" if n_data < n_bytes else "wrong size for IDX file"
                    )
                    raise ValueError(
                        f"{path}: {problem}: header says shape {shape} of {dtype.name} "
                        f"({n_bytes} bytes of data), file holds {n_data} bytes"
                    )

            # Read straight into the final buffer: MNIST's training images
            # are 47 MB, and ``frombuffer`` on ``bytes`` would add a copy and
            # give a read-only array.
            out = np.empty(shape, dtype=dtype)
            view = memoryview(out.reshape(-1).view(np.uint8))
            n_read = 0
            while n_read < out.nbytes:
                got = stream.readinto(view[n_read:])
                if not got:
                    break
                n_read += got
            if n_read != out.nbytes:
                raise ValueError(
                    f"{path}: truncated IDX file: header says shape {shape} of "
                    f"{dtype.name} ({out.nbytes} bytes of data), found {n_read} bytes"
                )
            if stream.read(1):
                raise ValueError(
                    f"{path}: wrong size for IDX file: more data than the header's "
                    f"shape {shape} of {dtype.name} ({out.nbytes} bytes)"
                )
        except (EOFError, gzip.BadGzipFile) as exc:
            # A cut-off download fails inside gzip rather than in our checks.
            raise ValueError(f"{path}: truncated or corrupt gzip stream: {exc}") from exc
    finally:
        stream.close()
        raw.close()
    if dtype.itemsize > 1:
        out = out.astype(dtype.newbyteorder("="))
    else:
        out = out.view(dtype.newbyteorder("="))
    return out


def _find(data_home, name):
    """Path of ``name`` or ``name.gz`` (or ``name`` without ``.gz``) in ``data_home``."""
    base = name[:-3] if name.endswith(".gz") else name
    for candidate in (name, base, base + ".gz"):
        path = Path(data_home) / candidate
        if path.is_file():
            return path
    return None


def _resolve_files(data_home, files):
    """Map each key of ``files`` to an existing path, or None where absent."""
    return {key: _find(data_home, name) for key, name in files.items()}


def _images_to_X(images, scale):
    """Flatten images to (n_samples, n_pixels); scale to float32 in [0, 1]."""
    X = images.reshape(images.shape[0], -1)
    if scale:
        # uint8 -> float32 directly: a float64 intermediate of MNIST would
        # be 376 MB for nothing.
        X = X.astype(np.float32)
        X /= np.float32(255)
    return X


def _make_bunch(X_train, y_train, X_test, y_test, *, image_shape, source, descr=""):
    return Bunch(
        data=X_train,
        target=y_train,
        data_test=X_test,
        target_test=y_test,
        image_shape=image_shape,
        source=source,
        DESCR=descr,
    )


def load_idx_dataset(
    data_home,
    *,
    train_images=MNIST_FILES["train_images"],
    train_labels=MNIST_FILES["train_labels"],
    test_images=MNIST_FILES["test_images"],
    test_labels=MNIST_FILES["test_labels"],
    scale=True,
    return_X_y=False,
):
    """Load a data set stored as four IDX files (images and labels, train and test).

    This is the layout of MNIST, Fashion-MNIST, Kuzushiji-MNIST and EMNIST.

    Parameters
    ----------
    data_home : str or path-like
        Directory holding the four files.
    train_images, train_labels, test_images, test_labels : str
        File names inside ``data_home``.  Each is found with or without a
        ``.gz`` suffix, whichever exists; the defaults are MNIST's names.
    scale : bool, default=True
        If True, images are returned as float32 divided by 255, so values lie
        in ``[0, 1]`` for ``uint8`` files.  If False, they keep the file's
        dtype.
    return_X_y : bool, default=False
        If True, return the tuple ``(X_train, y_train, X_test, y_test)``
        instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        With attributes

        data : ndarray of shape (n_train, n_pixels)
            Training images, flattened in row-major order.
        target : ndarray of shape (n_train,), dtype int64
            Training labels.
        data_test : ndarray of shape (n_test, n_pixels)
            Test images.
        target_test : ndarray of shape (n_test,), dtype int64
            Test labels.
        image_shape : tuple of int
            Shape of one image, to undo the flattening.
        source : dict
            Path each array was read from.
        DESCR : str
            Empty here; :func:`load_mnist` fills it.

    (X_train, y_train, X_test, y_test) : tuple of ndarrays
        If ``return_X_y`` is True.

    Raises
    ------
    FileNotFoundError
        If any of the four files is missing; the message lists them.
    ValueError
        If a file is not valid IDX, or images and labels disagree in number.

    Examples
    --------
    Fashion-MNIST ships under MNIST's file names, so only the directory
    changes:

    >>> from dbn.datasets import load_idx_dataset
    >>> fashion = load_idx_dataset("~/data/fashion-mnist")  # doctest: +SKIP
    >>> fashion.data.shape, fashion.data.dtype  # doctest: +SKIP
    ((60000, 784), dtype('float32'))

    EMNIST names its files after the split:

    >>> letters = load_idx_dataset(
    ...     "~/data/emnist",
    ...     train_images="emnist-letters-train-images-idx3-ubyte",
    ...     train_labels="emnist-letters-train-labels-idx1-ubyte",
    ...     test_images="emnist-letters-test-images-idx3-ubyte",
    ...     test_labels="emnist-letters-test-labels-idx1-ubyte",
    ... )  # doctest: +SKIP
    """
    data_home = Path(os.path.expanduser(os.fspath(data_home)))
    files = {
        "train_images": train_images,
        "train_labels": train_labels,
        "test_images": test_images,
        "test_labels": test_labels,
    }
    paths = _resolve_files(data_home, files)
    missing = [files[k] for k, p in paths.items() if p is None]
    if missing:
        raise FileNotFoundError(
            f"IDX files not found in {data_home}: "
            + ", ".join(f"{name} (or {name}.gz)" for name in missing)
        )
    return _load_resolved(paths, scale=scale, return_X_y=return_X_y)


def _load_resolved(paths, *, scale, return_X_y, descr=""):
    arrays = {key: load_idx(path) for key, path in paths.items()}
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.ndim < 1 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
            raise ValueError(
                f"{paths[f'{split}_images']} holds images of shape {images.shape} but "
                f"{paths[f'{split}_labels']} holds labels of shape {labels.shape}: "
                "expected one label per image"
            )
    X_train = _images_to_X(arrays["train_images"], scale)
    X_test = _images_to_X(arrays["test_images"], scale)
    y_train = arrays["train_labels"].astype(np.int64)
    y_test = arrays["test_labels"].astype(np.int64)
    if return_X_y:
        return X_train, y_train, X_test, y_test
    return _make_bunch(
        X_train,
        y_train,
        X_test,
        y_test,
        image_shape=tuple(arrays["train_images"].shape[1:]),
        source={key: str(path) for key, path in paths.items()},
        descr=descr,
    )


def _missing_mnist_message(data_home):
    names = "\n".join(f"    {name}.gz  (or {name})" for name in MNIST_FILES.values())
    where = (
        f"in {data_home}"
        if data_home is not None
        else "in a directory passed as `data_home`, or named by the environment "
        "variable DBN_DATA_HOME"
    )
    return (
        "MNIST not found. Put the four IDX files from http://yann.lecun.com/exdb/mnist/\n"
        f"{names}\n"
        f"{where} (load_mnist(data_home=...) takes precedence over DBN_DATA_HOME), "
        "or call load_mnist(download=True) with network access to fetch "
        "'mnist_784' from OpenML."
    )


def _fetch_mnist_openml(scale, return_X_y):
    """MNIST from OpenML through scikit-learn's cache, in the standard split."""
    from sklearn.datasets import fetch_openml

    try:
        import pandas  # noqa: F401

        parser = "pandas"
    except ImportError:
        parser = "liac-arff"
    bunch = fetch_openml("mnist_784", version=1, as_frame=False, parser=parser)
    # OpenML stores the 70,000 images in the original order: the first 60,000
    # are LeCun's training set and the last 10,000 his test set.
    X = bunch.data
    if scale:
        X = np.asarray(X, dtype=np.float32)
        X /= np.float32(255)
    else:
        X = np.asarray(X).astype(np.uint8)
    y = np.asarray(bunch.target).astype(np.int64)
    X_train, X_test = X[:_MNIST_N_TRAIN], X[_MNIST_N_TRAIN:]
    y_train, y_test = y[:_MNIST_N_TRAIN], y[_MNIST_N_TRAIN:]
    if return_X_y:
        return X_train, y_train, X_test, y_test
    return _make_bunch(
        X_train,
        y_train,
        X_test,
        y_test,
        image_shape=(28, 28),
        source={"openml": "mnist_784"},
        descr=_MNIST_DESCR,
    )


def load_mnist(data_home=None, *, download=True, scale=True, return_X_y=False):
    """Load MNIST in the standard split of 60,000 training and 10,000 test images.

    The four IDX files are read from ``data_home``, else from the directory
    named by the environment variable ``DBN_DATA_HOME``.  If neither holds
    them and ``download`` is True, MNIST is fetched from OpenML
    (``mnist_784``) through :func:`sklearn.datasets.fetch_openml`, which
    caches it under scikit-learn's data home.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Directory holding ``train-images-idx3-ubyte``,
        ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte`` and
        ``t10k-labels-idx1-ubyte``, each optionally gzipped (``.gz``).
        If None, ``DBN_DATA_HOME`` is used when set.
    download : bool, default=True
        Whether to fall back to OpenML when the files are not found.  If
        False, nothing is downloaded.
    scale : bool, default=True
        If True, images are float32 in ``[0, 1]`` (pixel / 255).  If False,
        they are the raw ``uint8`` intensities.
    return_X_y : bool, default=False
        If True, return ``(X_train, y_train, X_test, y_test)`` instead of a
        Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        With attributes

        data : ndarray of shape (60000, 784), dtype float32
            Training images, flattened in row-major order.
        target : ndarray of shape (60000,), dtype int64
            Training labels, 0 to 9.
        data_test : ndarray of shape (10000, 784), dtype float32
            Test images.
        target_test : ndarray of shape (10000,), dtype int64
            Test labels.
        image_shape : tuple of int
            ``(28, 28)``.
        source : dict
            Where each array came from (file paths, or OpenML).
        DESCR : str
            Description of the data set.

    (X_train, y_train, X_test, y_test) : tuple of ndarrays
        If ``return_X_y`` is True.

    Raises
    ------
    FileNotFoundError
        If the files are not found and ``download`` is False or the download
        fails.  The message lists the files to provide and where.
        Also if only some of the four files are present in the directory,
        rather than silently ignoring them for a download.
    ValueError
        If a file is not valid IDX.

    See Also
    --------
    load_idx_dataset : The same loader for any data set in MNIST's layout.

    References
    ----------
    .. [1] Y. LeCun, L. Bottou, Y. Bengio and P. Haffner. "Gradient-based
       learning applied to document recognition." Proceedings of the IEEE,
       86(11):2278-2324, 1998.

    Examples
    --------
    >>> from dbn.datasets import load_mnist
    >>> mnist = load_mnist("~/data/mnist", download=False)  # doctest: +SKIP
    >>> mnist.data.shape, mnist.data.dtype, mnist.target_test.shape  # doctest: +SKIP
    ((60000, 784), dtype('float32'), (10000,))
    >>> X_train, y_train, X_test, y_test = load_mnist(return_X_y=True)  # doctest: +SKIP
    """
    if data_home is None:
        data_home = os.environ.get("DBN_DATA_HOME") or None
    if data_home is not None:
        data_home = Path(os.path.expanduser(os.fspath(data_home)))
        paths = _resolve_files(data_home, MNIST_FILES)
        missing = [MNIST_FILES[k] for k, p in paths.items() if p is None]
        if not missing:
            return _load_resolved(
                paths, scale=scale, return_X_y=return_X_y, descr=_MNIST_DESCR
            )
        if len(missing) < len(MNIST_FILES):
            # Some files are there: a download would hide a broken directory.
            raise FileNotFoundError(
                f"Only some MNIST files are in {data_home}; missing "
                + ", ".join(f"{name}(.gz)" for name in missing)
                + ".\n"
                + _missing_mnist_message(data_home)
            )
    if not download:
        raise FileNotFoundError(_missing_mnist_message(data_home))
    try:
        return _fetch_mnist_openml(scale, return_X_y)
    except Exception as exc:  # network errors come in many classes
        raise FileNotFoundError(
            f"Downloading MNIST from OpenML failed ({type(exc).__name__}: {exc}).\n"
            + _missing_mnist_message(data_home)
        ) from exc
