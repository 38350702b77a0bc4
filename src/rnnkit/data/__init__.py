"""Data: checked loaders, vocabularies, label maps, padded batches, synthetic and built-in sets."""

from .batching import IGNORE_INDEX, Batch, LabelMap, PaddedSet, Vocab, pad_sequences
from .conll import read_conll
from .synthetic import adding, copy_memory, dinner
from .tables import read_long_csv, read_npz, read_table

__all__ = [
    "IGNORE_INDEX",
    "Batch",
    "LabelMap",
    "PaddedSet",
    "Vocab",
    "adding",
    "copy_memory",
    "dinner",
    "pad_sequences",
    "read_conll",
    "read_long_csv",
    "read_npz",
    "read_table",
]
