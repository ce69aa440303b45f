"""SummaryWriter against torch's: both write event files, TensorBoard's own reader reads them."""

from __future__ import annotations

import glob
import io
import os
import socket

import numpy as np
import pytest

import chainrule
from chainrule.utils.tensorboard import SummaryWriter

pytest.importorskip("tensorboard", reason="the optional 'tensorboard' package is not installed")
torch = pytest.importorskip("torch", reason="torch (the test oracle) is not installed")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402
from torch.utils.tensorboard import SummaryWriter as TorchSummaryWriter  # noqa: E402

EVERYTHING = {"scalars": 0, "histograms": 0, "images": 0, "tensors": 0}


def _read(log_dir) -> EventAccumulator:
    accumulator = EventAccumulator(str(log_dir), size_guidance=EVERYTHING)
    accumulator.Reload()
    return accumulator


def _log_everything(lib, writer_class, log_dir):
    rng = np.random.default_rng(0)
    weights = rng.standard_normal(500).astype(np.float32)
    image = rng.random((3, 4, 5)).astype(np.float32)
    batch = rng.random((10, 1, 3, 2)).astype(np.float32)
    with writer_class(str(log_dir)) as writer:
        for step in range(3):
            writer.add_scalar("loss/train", 1.0 / (step + 1), step)
            writer.add_scalar("loss/tensor", lib.tensor(np.float32(2.5 * step)), step)
            writer.add_scalars("run/parts", {"a": step, "b": lib.tensor(-1.5 * step)}, step)
        writer.add_scalar("precise", 0.1, 7, new_style=True, double_precision=True)
        writer.add_histogram("weights", lib.tensor(weights), 0)
        writer.add_histogram("weights_np", weights * 3, 1, bins=20, max_bins=6)
        writer.add_histogram("counts", np.arange(10), 2, bins="auto")
        writer.add_image("image", lib.tensor(image), 0)
        writer.add_image("image_hwc", (image.transpose(1, 2, 0) * 255).astype(np.uint8), 1,
                         dataformats="HWC")
        writer.add_image("image_hw", image[0], 2, dataformats="HW")
        writer.add_images("batch", lib.tensor(batch), 0)
        writer.add_text("notes", "learning rate **0.1**", 4)
        writer.add_hparams({"lr": 0.1, "batch": 32, "optimizer": "sgd", "nesterov": True},
                           {"hparam/accuracy": 0.75}, hparam_domain_discrete={"batch": [16, 32]},
                           run_name="hparams", global_step=3)


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    root = tmp_path_factory.mktemp("tensorboard")
    _log_everything(chainrule, SummaryWriter, root / "ours")
    _log_everything(torch, TorchSummaryWriter, root / "theirs")
    return root / "ours", root / "theirs"


def _runs(log_dir) -> list[str]:
    return sorted(os.path.relpath(os.path.dirname(path), log_dir)
                  for path in glob.glob(f"{log_dir}/**/events.out.tfevents.*", recursive=True))


def test_same_run_directories_and_tags_as_torch(logs):
    ours, theirs = logs
    assert _runs(ours) == _runs(theirs) == [".", "hparams", "run_parts_a", "run_parts_b"]
    for run in _runs(ours):
        assert _read(ours / run).Tags() == _read(theirs / run).Tags()
    assert _read(ours).Tags()["scalars"] == ["loss/train", "loss/tensor"]


def test_scalars_read_back_with_steps_and_values(logs):
    ours, theirs = logs
    for run, tag in [(".", "loss/train"), (".", "loss/tensor"), ("run_parts_a", "run/parts"),
                     ("run_parts_b", "run/parts"),
                     ("hparams", "hparam/accuracy")]:
        mine = [(e.step, e.value) for e in _read(ours / run).Scalars(tag)]
        assert mine == [(e.step, e.value) for e in _read(theirs / run).Scalars(tag)]
    assert [(e.step, e.value) for e in _read(ours).Scalars("loss/train")] == [
        (0, 1.0), (1, 0.5), (2, pytest.approx(1 / 3))]
    precise = _read(ours).Tensors("precise")[0]
    assert precise.step == 7 and list(precise.tensor_proto.double_val) == [0.1]
    assert precise.tensor_proto == _read(theirs).Tensors("precise")[0].tensor_proto


def test_histograms_match_torchs_buckets(logs):
    ours, theirs = logs
    for tag in ["weights", "weights_np", "counts"]:
        mine, expected = _read(ours).Histograms(tag)[0], _read(theirs).Histograms(tag)[0]
        assert mine.step == expected.step
        assert mine.histogram_value == expected.histogram_value
    # max_bins=6 merges the 20 buckets 20 // 6 = 3 at a time: 7 buckets, after the empty first
    assert len(_read(ours).Histograms("weights_np")[0].histogram_value.bucket) == 7 + 1


def test_images_decode_to_torchs_pixels(logs):
    from PIL import Image

    ours, theirs = logs
    for tag in ["image", "image_hwc", "image_hw", "batch"]:
        mine, expected = _read(ours).Images(tag)[0], _read(theirs).Images(tag)[0]
        assert (mine.step, mine.width, mine.height) == (expected.step, expected.width, expected.height)
        pixels = [np.asarray(Image.open(io.BytesIO(e.encoded_image_string)))
                  for e in (mine, expected)]
        np.testing.assert_array_equal(*pixels)
    assert (_read(ours).Images("batch")[0].width, _read(ours).Images("batch")[0].height) == (16, 6)


def test_text_and_hparams_match_torch(logs):
    ours, theirs = logs
    mine, expected = _read(ours).Tensors("notes/text_summary")[0], _read(theirs).Tensors("notes/text_summary")[0]
    assert mine.step == 4 and list(mine.tensor_proto.string_val) == [b"learning rate **0.1**"]
    assert mine.tensor_proto == expected.tensor_proto
    content = [_read(path / "hparams").PluginTagToContent("hparams") for path in (ours, theirs)]
    assert content[0] == content[1] and len(content[0]) == 3


def test_default_log_dir_is_runs_date_host_comment(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    writer = SummaryWriter(comment="_lr0.1")
    writer.close()
    parent, name = os.path.split(writer.log_dir)
    assert parent == "runs" and name.endswith("_" + socket.gethostname() + "_lr0.1")
    assert os.listdir(os.path.join("runs", name))[0].startswith("events.out.tfevents.")
    assert writer.get_logdir() == writer.log_dir


def test_close_then_log_again_starts_a_new_file(tmp_path):
    writer = SummaryWriter(tmp_path)
    writer.add_scalar("x", 1.0, 0)
    writer.close()
    writer.add_scalar("x", 2.0, 1)
    writer.flush()
    writer.close()
    assert len(os.listdir(tmp_path)) == 2
    assert sorted((e.step, e.value) for e in _read(tmp_path).Scalars("x")) == [(0, 1.0), (1, 2.0)]


def test_purge_step_hides_what_a_crashed_run_logged_from_there_on(tmp_path):
    read_back = []
    for lib, writer_class in ((chainrule, SummaryWriter), (torch, TorchSummaryWriter)):
        log_dir = str(tmp_path / lib.__name__)
        with writer_class(log_dir) as crashed:
            for step in range(6):
                crashed.add_scalar("loss", float(step), step)
        with writer_class(log_dir, purge_step=3) as resumed:
            for step in (3, 4):
                resumed.add_scalar("loss", 10.0 + step, step)
        resumed.add_scalar("loss", 15.0, 5)  # reopened after close(): purges nothing again
        resumed.close()
        read_back.append(sorted((e.step, e.value) for e in _read(log_dir).Scalars("loss")))
    assert read_back[0] == read_back[1] == [(0, 0.0), (1, 1.0), (2, 2.0), (3, 13.0), (4, 14.0),
                                            (5, 15.0)]


@pytest.mark.parametrize("call", [
    lambda lib, w: w.add_scalar("x", lib.ones(2)),
    lambda lib, w: w.add_image("x", lib.ones(3, 4), dataformats="CHW"),
    lambda lib, w: w.add_image("x", lib.ones(3, 4, 4), dataformats="CCW"),
    lambda lib, w: w.add_histogram("x", lib.ones(0)),
    lambda lib, w: w.add_histogram("x", lib.ones(3) * 5, bins=[0.0, 1.0, 2.0, 3.0]),
    lambda lib, w: w.add_hparams([("lr", 0.1)], {}),
    lambda lib, w: w.add_hparams({"lr": 0.1}, {}, hparam_domain_discrete={"lr": ["a"]}),
    lambda lib, w: w.add_hparams({"lr": [0.1]}, {}),
])
def test_bad_input_raises_what_torch_raises(call, tmp_path):
    errors = []
    for lib, writer_class in ((chainrule, SummaryWriter), (torch, TorchSummaryWriter)):
        with writer_class(str(tmp_path / lib.__name__)) as writer:
            with pytest.raises(Exception) as caught:
                call(lib, writer)
        errors.append((caught.type, " ".join(str(caught.value).split())))
    assert errors[0] == errors[1]


def test_missing_tensorboard_names_the_pip_command(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "tensorboard.summary.writer.event_file_writer", None)
    with pytest.raises(ImportError, match=r"TensorBoard logging needs the optional package "
                                          r"'tensorboard': run .* -m pip install \"chainrule\[tensorboard\]\""):
        SummaryWriter(tmp_path)


def test_torch_import_path_resolves_under_the_shim(tmp_path):
    from chainrule._torch_shim import run_script

    script = tmp_path / "log.py"
    script.write_text("from torch.utils.tensorboard import SummaryWriter\n"
                      f"with SummaryWriter({str(tmp_path / 'run')!r}) as w:\n"
                      "    w.add_scalar('y', 3.0, 1)\n")
    run_script(script, [])
    assert [(e.step, e.value) for e in _read(tmp_path / "run").Scalars("y")] == [(1, 3.0)]
