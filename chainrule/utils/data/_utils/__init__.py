"""Internals of the DataLoader: collation, fetching and worker processes."""
