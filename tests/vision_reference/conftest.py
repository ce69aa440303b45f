"""The scripts here import torchvision to write the stored references: never collect them."""

collect_ignore_glob = ["make_*.py"]
