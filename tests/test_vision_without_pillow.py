"""Pillow is optional: without it chainrule.vision still imports, datasets hand NumPy arrays to
transforms, and anything that needs image files says which pip command installs it."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import sys
    sys.modules["PIL"] = None  # as if Pillow were not installed
    import chainrule
    from chainrule import vision
    from chainrule.datasets import FakeData
    from chainrule.transforms import ToTensor
    image, label = FakeData(size=1, image_size=(3, 4, 5))[0]
    print(type(image).__name__, image.shape, image.dtype)
    print(tuple(FakeData(size=1, image_size=(3, 4, 5), transform=ToTensor())[0][0].shape))
    try:
        vision.io.decode_image(chainrule.zeros(4, dtype=chainrule.uint8))
    except ImportError as error:
        print(error)
    try:
        vision.utils.save_image(chainrule.zeros(3, 2, 2), "x.png")
    except ImportError as error:
        print(error)
""")


def test_vision_without_pillow():
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:2] == ["ndarray (4, 5, 3) uint8", "(3, 4, 5)"]
    for line in lines[2:]:
        assert line.startswith("Image files needs the optional package 'PIL': run ")
        assert line.endswith('-m pip install "chainrule[images]"')
    assert len(lines) == 4
