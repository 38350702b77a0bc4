"""Data: checked loaders, vocabularies, label maps, padded batches, synthetic and built-in sets."""

from .batching import IGNORE_INDEX, Batch, LabelMap, PaddedSet, pad_sequences
from .builtin import builtin_corpus
from .conll import read_conll
from .synthetic import adding, copy_memory, dinner
from .tables import read_long_csv, read_npz, read_table
from .text import StreamBatches, read_corpus, read_text_file, split_stream
from .vocab import Vocabulary, tokenize

__all__ = [
    "IGNORE_INDEX",
    "Batch",
    "LabelMap",
    "PaddedSet",
    "StreamBatches",
    "Vocabulary",
    "adding",
    "builtin_corpus",
    "copy_memory",
    "dinner",
    "pad_sequences",
    "read_conll",
    "read_corpus",
    "read_long_csv",
    "read_npz",
    "read_table",
    "read_text_file",
    "split_stream",
    "tokenize",
]
