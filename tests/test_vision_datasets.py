"""CIFAR10/100 (download from a local server, restricted unpickling), DatasetFolder/ImageFolder,
FakeData, and torchvision's namespace under chainrule.vision."""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
from test_datasets import file_server  # noqa: F401  (the local HTTP server fixture)

import chainrule
from chainrule import datasets, vision

Image = pytest.importorskip("PIL.Image", reason="Pillow (the 'images' extra) is not installed")


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def _cifar_tarball(folder: str, batches: dict[str, object]) -> tuple[bytes, dict[str, str]]:
    """A gzipped tarball of pickled batches under ``folder``, and each member's MD5."""
    buffer, sums = io.BytesIO(), {}
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, entry in batches.items():
            data = pickle.dumps(entry, protocol=2)
            sums[name] = _md5(data)
            info = tarfile.TarInfo(f"{folder}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue(), sums


def _batch(n: int, seed: int, labels_key: str = "labels") -> dict:
    rng = np.random.default_rng(seed)
    return {"batch_label": f"batch {seed}", labels_key: rng.integers(0, 3, n).tolist(),
            "data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
            "filenames": [f"img{i}.png" for i in range(n)]}


def _serve_cifar(monkeypatch, served: Path, url: str, cls, batches: dict, train: list[str],
                 test: list[str], meta_name: str) -> None:
    archive, sums = _cifar_tarball(cls.base_folder, batches)
    (served / cls.filename).write_bytes(archive)
    monkeypatch.setattr(cls, "url", url + cls.filename)
    monkeypatch.setattr(cls, "tgz_md5", _md5(archive))
    monkeypatch.setattr(cls, "train_list", [[name, sums[name]] for name in train])
    monkeypatch.setattr(cls, "test_list", [[name, sums[name]] for name in test])
    monkeypatch.setattr(cls, "meta", {**cls.meta, "md5": sums[meta_name]})


def test_cifar10_download_and_items(tmp_path, file_server, monkeypatch):  # noqa: F811
    served, url = file_server
    batches = {"data_batch_1": _batch(4, 1), "data_batch_2": _batch(3, 2),
               "test_batch": _batch(2, 3), "batches.meta": {"label_names": ["a", "b", "c"]}}
    _serve_cifar(monkeypatch, served, url, datasets.CIFAR10, batches,
                 ["data_batch_1", "data_batch_2"], ["test_batch"], "batches.meta")
    with pytest.raises(RuntimeError, match="Dataset not found or corrupted. You can use "
                                           "download=True to download it"):
        datasets.CIFAR10(tmp_path / "root")
    train = datasets.CIFAR10(tmp_path / "root", download=True)
    assert len(train) == 7 and train.classes == ["a", "b", "c"]
    assert train.class_to_idx == {"a": 0, "b": 1, "c": 2}
    assert train.data.shape == (7, 32, 32, 3) and train.data.dtype == np.uint8
    assert train.targets == batches["data_batch_1"]["labels"] + batches["data_batch_2"]["labels"]
    image, target = train[5]
    expected = batches["data_batch_2"]["data"][1].reshape(3, 32, 32).transpose(1, 2, 0)
    assert isinstance(image, Image.Image) and image.mode == "RGB"
    np.testing.assert_array_equal(np.asarray(image), expected)
    assert target == batches["data_batch_2"]["labels"][1]
    test = datasets.CIFAR10(tmp_path / "root", train=False, transform=vision.transforms.ToTensor())
    assert tuple(test[0][0].shape) == (3, 32, 32)
    assert repr(test).splitlines()[:4] == ["Dataset CIFAR10", "    Number of datapoints: 2",
                                           f"    Root location: {tmp_path / 'root'}",
                                           "    Split: Test"]


def test_cifar100_uses_fine_labels(tmp_path, file_server, monkeypatch):  # noqa: F811
    served, url = file_server
    batches = {"train": _batch(3, 4, "fine_labels"), "test": _batch(2, 5, "fine_labels"),
               "meta": {"fine_label_names": ["x", "y", "z"], "coarse_label_names": ["q"]}}
    _serve_cifar(monkeypatch, served, url, datasets.CIFAR100, batches, ["train"], ["test"], "meta")
    ds = datasets.CIFAR100(tmp_path, download=True)
    assert ds.targets == batches["train"]["fine_labels"] and ds.classes == ["x", "y", "z"]


def test_cifar_download_rejects_a_bad_checksum(tmp_path, file_server, monkeypatch):  # noqa: F811
    served, url = file_server
    batches = {"test_batch": _batch(2, 3), "batches.meta": {"label_names": ["a"]}}
    _serve_cifar(monkeypatch, served, url, datasets.CIFAR10, batches, [], ["test_batch"],
                 "batches.meta")
    monkeypatch.setattr(datasets.CIFAR10, "tgz_md5", "0" * 32)
    with pytest.raises(RuntimeError, match="MD5 mismatch"):
        datasets.CIFAR10(tmp_path / "root", download=True)
    assert not list((tmp_path / "root").iterdir())  # nothing half-written left behind


class _Hostile:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_cifar_refuses_a_hostile_pickle(tmp_path, monkeypatch):
    batch = _batch(2, 3)
    batch["labels"] = [_Hostile(), 1]
    archive, sums = _cifar_tarball(datasets.CIFAR10.base_folder,
                                   {"test_batch": batch, "batches.meta": {"label_names": ["a"]}})
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(tmp_path, filter="data")
    monkeypatch.setattr(datasets.CIFAR10, "train_list", [])
    monkeypatch.setattr(datasets.CIFAR10, "test_list", [["test_batch", sums["test_batch"]]])
    monkeypatch.setattr(datasets.CIFAR10, "meta", {**datasets.CIFAR10.meta,
                                                   "md5": sums["batches.meta"]})
    monkeypatch.chdir(tmp_path)
    with pytest.raises(RuntimeError, match=r"test_batch: not a CIFAR batch \(refusing to load "
                                           r"posix.system"):
        datasets.CIFAR10(tmp_path, train=False)
    assert not (tmp_path / "pwned").exists()


def _image_tree(root: Path) -> None:
    rng = np.random.default_rng(0)
    for path in ["dog/b.png", "dog/a.JPG", "cat/x/deep.png", "cat/notes.txt", "bird/c.bmp"]:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        if path.endswith(".txt"):
            (root / path).write_text("not an image")
        else:
            Image.fromarray(rng.integers(0, 256, (4, 5), dtype=np.uint8)).save(
                root / path, format="JPEG" if path.endswith("JPG") else None)


def test_image_folder(tmp_path):
    _image_tree(tmp_path)
    ds = datasets.ImageFolder(tmp_path)
    assert ds.classes == ["bird", "cat", "dog"]
    assert ds.class_to_idx == {"bird": 0, "cat": 1, "dog": 2}
    assert ds.samples == [(str(tmp_path / "bird/c.bmp"), 0), (str(tmp_path / "cat/x/deep.png"), 1),
                          (str(tmp_path / "dog/a.JPG"), 2), (str(tmp_path / "dog/b.png"), 2)]
    assert ds.targets == [0, 1, 2, 2] and ds.imgs is ds.samples
    image, target = ds[3]
    assert image.mode == "RGB" and image.size == (5, 4) and target == 2


def test_dataset_folder_loader_and_filters(tmp_path):
    _image_tree(tmp_path)
    ds = datasets.DatasetFolder(tmp_path, loader=os.path.getsize,
                                is_valid_file=lambda p: p.endswith(".txt"), allow_empty=True)
    assert ds.samples == [(str(tmp_path / "cat/notes.txt"), 1)]
    assert ds[0] == (len("not an image"), 1)
    with pytest.raises(FileNotFoundError, match="Found no valid file for the classes bird, dog. "
                                                "Supported extensions are: .txt"):
        datasets.DatasetFolder(tmp_path, loader=open, extensions=(".txt",))
    with pytest.raises(ValueError, match="Both extensions and is_valid_file cannot be None"):
        datasets.DatasetFolder(tmp_path, loader=open)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="Couldn't find any class folder"):
        datasets.ImageFolder(tmp_path / "empty")


def test_fake_data():
    ds = datasets.FakeData(size=3, image_size=(3, 6, 7), num_classes=4)
    image, target = ds[1]
    assert isinstance(image, Image.Image) and image.size == (7, 6) and image.mode == "RGB"
    assert 0 <= target < 4
    again, same = ds[1]
    np.testing.assert_array_equal(np.asarray(image), np.asarray(again))
    assert same == target
    assert datasets.FakeData(size=1, image_size=(1, 4, 4))[0][0].mode == "L"
    state = chainrule.get_rng_state()
    ds[0]
    assert chainrule.equal(state, chainrule.get_rng_state())  # global stream untouched
    with pytest.raises(IndexError, match="FakeData index out of range"):
        ds[3]
    shifted = datasets.FakeData(size=3, image_size=(3, 6, 7), random_offset=1)
    np.testing.assert_array_equal(np.asarray(shifted[0][0]), np.asarray(ds[1][0]))
    assert repr(ds) == "Dataset FakeData\n    Number of datapoints: 3"


def test_folder_repr_and_transforms(tmp_path):
    _image_tree(tmp_path)
    ds = datasets.ImageFolder(tmp_path, transform=vision.transforms.ToTensor(),
                              target_transform=lambda t: t * 10)
    image, target = ds[0]
    assert tuple(image.shape) == (3, 4, 5) and target == 0
    assert repr(ds).splitlines() == ["Dataset ImageFolder", "    Number of datapoints: 4",
                                     f"    Root location: {tmp_path}", "    Transform: ToTensor()",
                                     f"    Target transform: {ds.target_transform!r}"]
