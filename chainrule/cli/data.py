"""The data ``chainrule train`` uses: both splits loaded and checked against each other before
anything is trained, every problem reported in one line naming the data and how to fix it."""

from __future__ import annotations

import hashlib

from chainrule.cli.arguments import UsageError

DOWNLOADABLE = ("mnist", "fashion-mnist")


def _fix_hint(dataset: str) -> str:
    if dataset in DOWNLOADABLE:
        return (f"; point --data-root at a folder holding the {dataset} IDX files, pass a folder "
                f"of IDX files as --dataset, or connect to the internet so they can be downloaded")
    return ""


def load_splits(dataset: str, data_root: str):
    """``(train_images, train_labels, test_images, test_labels)``, checked for consistency."""
    from chainrule.train.recipes import load_images

    try:
        train_images, train_labels = load_images(dataset, True, data_root)
        test_images, test_labels = load_images(dataset, False, data_root)
    except (OSError, ValueError, RuntimeError) as error:
        raise UsageError(f"cannot read dataset {dataset!r}: {error}{_fix_hint(dataset)}") from error
    train_shape, test_shape = tuple(train_images.shape[1:]), tuple(test_images.shape[1:])
    if train_shape != test_shape:
        raise UsageError(f"dataset {dataset!r}: test images are {test_shape} but training images "
                         f"are {train_shape}")
    num_classes = int(train_labels.max().item()) + 1
    if int(test_labels.max().item()) >= num_classes:
        raise UsageError(f"dataset {dataset!r}: test labels go up to {int(test_labels.max())} but "
                         f"training labels only to {num_classes - 1}")
    return train_images, train_labels, test_images, test_labels


def fingerprint(images, labels) -> str:
    """A SHA-256 of the training data, so a resumed run can tell it is given the same data."""
    digest = hashlib.sha256(images.numpy().tobytes())
    digest.update(labels.numpy().tobytes())
    return digest.hexdigest()


def split_sizes(total: int, valid_fraction: float) -> tuple[int, int]:
    """``(train, valid)`` sample counts; refuses a fraction that leaves nothing to train on."""
    valid = int(round(total * valid_fraction))
    if valid >= total:
        raise UsageError(f"--valid-fraction {valid_fraction} leaves no training samples out of "
                         f"{total}")
    return total - valid, valid


def load_text(path: str) -> str:
    """The UTF-8 text ``--data`` names; a missing, empty or binary file is one line."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as error:
        raise UsageError(f"cannot read --data {path!r}: {error.strerror or error}") from error
    if not raw.strip():
        raise UsageError(f"--data {path!r} is empty: give a text file to learn from")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UsageError(f"--data {path!r} is not UTF-8 text (byte {error.start} is "
                         f"0x{raw[error.start]:02x}); give a text file") from error
    if "\0" in text:
        raise UsageError(f"--data {path!r} is binary (it holds NUL bytes); give a text file")
    return text


def text_fingerprint(text: str) -> str:
    """A SHA-256 of a text, so a saved gpt run can tell it is given the text it learned."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
