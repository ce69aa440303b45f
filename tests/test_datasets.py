"""chainrule.datasets: IDX reading, MNIST/FashionMNIST, download, Digits, synthetic data."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import threading
from pathlib import Path

import numpy as np
import pytest

import chainrule
from chainrule import datasets, transforms

MNIST_DIR = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "mnist"
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")


def _idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    return header + array.astype(np.uint8).tobytes()


def _write_split(folder: Path, prefix: str, images: np.ndarray, labels: np.ndarray, gz=True):
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    for kind, array in (("images-idx3", images), ("labels-idx1", labels)):
        raw = _idx_bytes(array)
        path = folder / f"{prefix}-{kind}-ubyte{suffix}"
        path.write_bytes(gzip.compress(raw) if gz else raw)


def _fake(n=5, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n)


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize("layout", ["", "MNIST/raw", "MNIST"])
def test_mnist_reads_idx_files(tmp_path, gz, layout):
    images, labels = _fake()
    _write_split(tmp_path / layout, "t10k", images, labels, gz=gz)
    ds = datasets.MNIST(tmp_path, train=False)
    assert len(ds) == 5 and ds.data.dtype == chainrule.uint8 and ds.targets.dtype == chainrule.int64
    np.testing.assert_array_equal(ds.data.numpy(), images)
    np.testing.assert_array_equal(ds.targets.numpy(), labels)
    image, target = ds[2]
    assert isinstance(target, int) and target == labels[2]
    assert image.dtype == chainrule.uint8 and tuple(image.shape) == (28, 28)
    assert "Number of datapoints: 5" in repr(ds) and "Split: Test" in repr(ds)
    ds.data, ds.targets = ds.data[:2], ds.targets[:2]
    assert len(ds) == 2 and ds[1][1] == labels[1]


def test_mnist_transforms_applied(tmp_path):
    images, labels = _fake()
    _write_split(tmp_path / "FashionMNIST" / "raw", "train", images, labels)
    ds = datasets.FashionMNIST(tmp_path, transform=transforms.ToTensor(),
                               target_transform=lambda t: t + 100)
    image, target = ds[0]
    assert tuple(image.shape) == (1, 28, 28) and image.dtype == chainrule.float32
    np.testing.assert_allclose(image.numpy()[0], images[0] / 255, rtol=1e-6)
    assert target == labels[0] + 100
    assert ds.classes[9] == "Ankle boot" and ds.class_to_idx["Trouser"] == 1


@pytest.mark.parametrize("corruption, message", [
    (lambda raw: b"\x00\x00\x07\x03" + raw[4:], "bad magic"),
    (lambda raw: raw[:-10], "wrong length"),
    (lambda raw: raw + b"\x00", "wrong length"),
    (lambda raw: b"", "empty file"),
])
def test_read_idx_reports_corrupt_files(tmp_path, corruption, message):
    path = tmp_path / "bad-idx3-ubyte"
    path.write_bytes(corruption(_idx_bytes(np.zeros((2, 28, 28), np.uint8))))
    with pytest.raises(RuntimeError, match=message) as info:
        datasets.read_idx(path)
    assert str(path) in str(info.value)


def test_read_idx_reports_truncated_gzip(tmp_path):
    path = tmp_path / "cut-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(_idx_bytes(np.arange(100, dtype=np.uint8)))[:-12])
    with pytest.raises(RuntimeError, match="cut-idx1-ubyte.gz"):
        datasets.read_idx(path)


def test_missing_files_say_where_they_were_looked_for(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets.MNIST, "system_dirs", [])
    with pytest.raises(RuntimeError, match="download=True"):
        datasets.MNIST(tmp_path)


@pytest.fixture
def file_server(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def _serve_mnist(served: Path):
    images, labels = _fake(6, seed=1)
    for prefix in ("train", "t10k"):
        _write_split(served, prefix, images, labels)
    return images, [(p.name, hashlib.md5(p.read_bytes()).hexdigest())
                    for p in sorted(served.iterdir())]


def test_download_from_mirror_with_checksums(tmp_path, file_server, monkeypatch):
    served, url = file_server
    images, resources = _serve_mnist(served)
    monkeypatch.setattr(datasets.MNIST, "system_dirs", [])
    monkeypatch.setattr(datasets.MNIST, "resources", resources)
    monkeypatch.setattr(datasets.MNIST, "mirrors", ["http://127.0.0.1:1/nothing/", url])
    root = tmp_path / "root"
    ds = datasets.MNIST(root, download=True)
    np.testing.assert_array_equal(ds.data.numpy(), images)
    raw = sorted(p.name for p in (root / "MNIST" / "raw").iterdir())
    assert raw == sorted(name for name, _ in resources)


def test_download_rejects_bad_checksum(tmp_path, file_server, monkeypatch):
    served, url = file_server
    _, resources = _serve_mnist(served)
    resources[0] = (resources[0][0], "0" * 32)
    monkeypatch.setattr(datasets.MNIST, "system_dirs", [])
    monkeypatch.setattr(datasets.MNIST, "resources", resources)
    monkeypatch.setattr(datasets.MNIST, "mirrors", [url])
    root = tmp_path / "root"
    with pytest.raises(RuntimeError, match=f"{resources[0][0]} from every mirror: .*MD5 mismatch"):
        datasets.MNIST(root, download=True)
    assert not list((root / "MNIST" / "raw").glob(f"*{resources[0][0]}*"))


@pytest.mark.skipif(not MNIST_DIR.is_dir(), reason="real MNIST not present")
def test_real_mnist():
    ds = datasets.MNIST(MNIST_DIR, train=False)
    assert len(ds) == 10000 and tuple(ds.data.shape) == (10000, 28, 28)
    assert ds[0][1] == 7 and int(ds.targets.numpy().max()) == 9


@pytest.mark.skipif(not FASHION_DIR.is_dir(), reason="Fashion-MNIST package not installed")
def test_real_fashion_mnist_from_system_dir(tmp_path):
    ds = datasets.FashionMNIST(tmp_path, train=False)
    assert len(ds) == 10000 and sorted(set(ds.targets.numpy().tolist())) == list(range(10))


@pytest.mark.parametrize("train, size", [(True, 6000), (False, 1000)])
def test_embedded_digits(train, size):
    ds = datasets.Digits(train=train, transform=transforms.ToTensor())
    assert len(ds) == size
    counts = np.bincount(ds.targets.numpy(), minlength=10)
    assert (counts == size // 10).all()
    image, target = ds[0]
    assert tuple(image.shape) == (1, 28, 28) and 0 <= float(image.numpy().min())
    assert float(image.numpy().max()) <= 1.0 and isinstance(target, int)
    assert datasets.digits.EMBEDDED.stat().st_size < 3_000_000


@pytest.mark.skipif(not MNIST_DIR.is_dir(), reason="real MNIST not present")
def test_embedded_digits_are_real_mnist_images():
    mnist = datasets.MNIST(MNIST_DIR, train=False).data.numpy().reshape(10000, -1)
    digits = datasets.Digits(train=False).data.numpy().reshape(1000, -1)
    known = {row.tobytes() for row in mnist}
    assert all(row.tobytes() in known for row in digits[:50])


def test_sinc_surface_matches_tutorial():
    x, y = datasets.sinc_surface(50)
    grid = np.linspace(-10, 10, 50)
    x1, x2 = np.meshgrid(grid, grid)
    r = np.sqrt(x1.ravel() ** 2 + x2.ravel() ** 2)
    np.testing.assert_array_equal(x, np.array([x1.flatten(), x2.flatten()]).T)
    np.testing.assert_allclose(y, (np.sin(r) / r).reshape(-1, 1))
    _, y_odd = datasets.sinc_surface(5)
    assert np.isfinite(y_odd).all() and y_odd.max() == 1.0


def test_temperature_data():
    t_c, t_u = datasets.temperature()
    assert t_c.dtype == chainrule.float32 and tuple(t_u.shape) == (11,)
    assert t_c.tolist()[:2] == [0.5, 14.0]
    np.testing.assert_allclose(t_u.numpy()[-1], 68.4, rtol=1e-6)


@pytest.mark.parametrize("position", [10, 12, 16])
def test_read_idx_reports_corrupt_gzip_stream(tmp_path, position):
    path = tmp_path / "garbled-idx1-ubyte.gz"
    data = bytearray(gzip.compress(_idx_bytes(np.arange(200, dtype=np.uint8) % 7)))
    data[position] ^= 0xA5  # inside the deflate stream: zlib fails, not the CRC check
    path.write_bytes(bytes(data))
    with pytest.raises(RuntimeError, match="garbled-idx1-ubyte.gz.*corrupt"):
        datasets.read_idx(path)


def test_corrupt_dataset_file_names_the_file(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets.MNIST, "system_dirs", [])
    images, labels = _fake()
    _write_split(tmp_path, "train", images, labels)
    labels_file = tmp_path / "train-labels-idx1-ubyte.gz"
    labels_file.write_bytes(labels_file.read_bytes()[:-20])
    with pytest.raises(RuntimeError, match=str(labels_file)):
        datasets.MNIST(tmp_path)


def test_download_falls_back_to_the_next_mirror_on_a_bad_file(tmp_path, file_server,
                                                              monkeypatch):
    served, url = file_server
    images, resources = _serve_mnist(served)
    broken = served / "broken"
    broken.mkdir()
    for name, _ in resources:  # the first mirror serves truncated copies
        (broken / name).write_bytes((served / name).read_bytes()[:100])
    monkeypatch.setattr(datasets.MNIST, "system_dirs", [])
    monkeypatch.setattr(datasets.MNIST, "resources", resources)
    monkeypatch.setattr(datasets.MNIST, "mirrors", [f"{url}broken/", url])
    ds = datasets.MNIST(tmp_path / "root", train=False, download=True)
    np.testing.assert_array_equal(ds.data.numpy(), images)
    assert not list((tmp_path / "root" / "MNIST" / "raw").glob(".*"))  # no temporary files left


def test_download_skipped_when_files_are_present(tmp_path, monkeypatch):
    images, labels = _fake()
    for prefix in ("train", "t10k"):
        _write_split(tmp_path, prefix, images, labels)
    monkeypatch.setattr(datasets.MNIST, "system_dirs", [])
    monkeypatch.setattr(datasets.MNIST, "mirrors", ["http://127.0.0.1:1/"])  # unreachable
    assert len(datasets.MNIST(tmp_path, download=True)) == 5


@pytest.mark.skipif(not FASHION_DIR.is_dir(), reason="Fashion-MNIST package not installed")
def test_fashion_mnist_system_dir_needs_no_download(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets.FashionMNIST, "mirrors", ["http://127.0.0.1:1/"])
    ds = datasets.FashionMNIST(tmp_path, train=True, download=True,
                               transform=transforms.Compose([transforms.ToTensor(),
                                                             transforms.Normalize((0.5,), (0.5,))]))
    assert len(ds) == 60000 and not (tmp_path / "FashionMNIST").exists()
    image, target = ds[0]
    assert tuple(image.shape) == (1, 28, 28) and -1.0 <= float(image.numpy().min())
    assert ds.classes[target] in datasets.FashionMNIST.classes


def test_embedded_digits_ship_with_their_licence():
    licence = datasets.digits.EMBEDDED.parent / "LICENSE-digits.txt"
    text = licence.read_text()
    assert "Yann LeCun" in text and "CC BY-SA 3.0" in text
    tomllib = pytest.importorskip("tomllib")
    pyproject = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    shipped = pyproject["tool"]["setuptools"]["package-data"]["chainrule"]
    assert "datasets/_embedded/*.npz" in shipped and "datasets/_embedded/*.txt" in shipped
