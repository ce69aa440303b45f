"""PyTorch's ``.pt`` format, both ways, and the on-disk form of whole objects.

``save`` writes this format for ``format="torch"``, and for any object chainrule's own
format cannot hold (a whole ``nn.Module``, an optimizer, arbitrary classes), as
``torch.save`` does. It is a zip archive of stored (uncompressed) records::

    archive/data.pkl              the object, pickled with protocol 2
    archive/.format_version       b"1"
    archive/.storage_alignment    b"64"
    archive/byteorder             b"little" (the writer's byte order)
    archive/data/<key>            each storage's raw bytes, starting at a multiple of 64
    archive/version               b"3\\n"

In ``data.pkl`` a tensor is ``torch._utils._rebuild_tensor_v2(storage, offset, size,
stride, requires_grad, OrderedDict())`` and a parameter ``torch._utils._rebuild_parameter(
tensor, requires_grad, OrderedDict())``; a storage is the persistent id ``("storage",
torch.FloatStorage, key, "cpu", numel)``; views of one array share one storage. Dtypes,
``torch.Size`` and ``OrderedDict`` appear as PyTorch writes them, so a file of tensors
and containers loads in real PyTorch with ``torch.load(weights_only=True)``; whole
chainrule objects name chainrule's classes (``chainrule.nn.modules...``).

Loading (any prefix in place of ``archive``): with ``weights_only=True``, the default,
only the globals PyTorch's ``weights_only`` allows for tensors and plain containers,
plus ``add_safe_globals``, are rebuilt; any other global raises
``pickle.UnpicklingError`` naming it and the file, before anything is called.
``weights_only=False`` is a full unpickle, which runs whatever code the file names:
use it only on files you trust. ``torch.*`` globals then resolve to chainrule's.
bfloat16 storages load as float32 (exact), with a warning. Zip damage (bad records,
paths leaving the archive, sizes past the end of the file, compressed records, CRC
mismatches) raises ``RuntimeError`` naming the file; with ``mmap=True`` storages are views
of a private mapping and their CRCs are not checked, since that would read every page.

>>> import chainrule as torch, tempfile, os, zipfile
>>> path = os.path.join(tempfile.mkdtemp(), "model.pt")
>>> torch.save({"w": torch.ones(2)}, path, format="torch")
>>> [name.split("/", 1)[1] for name in zipfile.ZipFile(path).namelist()]
['data.pkl', '.format_version', '.storage_alignment', 'byteorder', 'data/0', 'version']
>>> torch.load(path)
{'w': tensor([1., 1.])}
"""

from __future__ import annotations

import io
import pickle
import sys
from typing import IO, Any

from chainrule.serialization._torch_pickle import TorchPickler, TorchUnpickler
from chainrule.serialization._torch_zip import TorchArchive, TorchArchiveWriter
from chainrule.serialization.layout import FormatError

__all__ = ["save_torch_format", "load_torch_format"]


def save_torch_format(obj: Any, out: IO[bytes]) -> None:
    """Write ``obj`` to the binary file ``out`` in PyTorch's zip format."""
    pickled = io.BytesIO()
    pickler = TorchPickler(pickled)
    pickler.dump(obj)
    archive = TorchArchiveWriter(out)
    archive.write("data.pkl", pickled.getbuffer())
    archive.write(".format_version", b"1")
    archive.write(".storage_alignment", b"64")
    archive.write("byteorder", sys.byteorder.encode())
    for key, array in pickler.storages.values():
        archive.write(f"data/{key}", array, align=True)
    archive.write("version", b"3\n")
    archive.close()


def load_torch_format(buffer, name: str, weights_only: bool, verify_crc: bool = True) -> Any:
    """The object in a PyTorch zip file held in ``buffer``; tensors view the buffer."""
    archive = TorchArchive(buffer, verify_crc=verify_crc)
    byteorder = bytes(archive.read("byteorder")) if archive.has("byteorder") else b"little"
    if byteorder not in (b"little", b"big"):
        raise FormatError(f"unknown byteorder {byteorder[:16]!r}")
    unpickler = TorchUnpickler(io.BytesIO(archive.read("data.pkl")), archive,
                               big_endian=byteorder == b"big", weights_only=weights_only,
                               file_name=name)
    if not weights_only:
        return unpickler.load()
    try:
        return unpickler.load()
    except (FormatError, pickle.UnpicklingError):
        raise
    except Exception as error:
        # A malformed pickle: say so, as PyTorch's weights_only unpickler does.
        raise pickle.UnpicklingError(f"Weights only load failed for '{name}': the pickle is "
                                     f"malformed ({type(error).__name__}: {error})") from None
