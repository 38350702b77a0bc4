"""Parameters: PyTorch's names, the Keras-style initialisers and regularisers, the formulation tag.

A layer or cell module registers each cell's weights under torch's names (``weight_ih_l0``,
``bias_hh_l1_reverse``; ``weight_ih`` for a single cell), initialises them by kind (``kernel``,
``recurrent``, ``bias``, ``peephole``) and sums their penalties. Initialisers and regularisers are
kept as the user gave them (names, or objects) and resolved when used, so a pickled module holds
no function objects and loads with ``torch.load(..., weights_only=True)``.

A variant whose weights have torch's shapes but computes something else (``GRU(reset_after=False)``,
an LSTM with other activations) writes its :meth:`~rnnkit.cells.CellMath.formulation` into its
``state_dict`` as ``_extra_state`` (a ``uint8`` tensor of the UTF-8 text, so safetensors keeps it):
``torch.nn.GRU`` then refuses it under ``strict=True`` as an unexpected key, and an rnnkit module of
the other formulation refuses it naming both. Standard configurations write nothing extra, so their
``state_dict`` is exactly torch's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import torch
from torch import Tensor, nn

from ..cells.base import CellMath, WeightKind
from ..initializers import INITIALIZERS, Initializer, get_initializer
from ..regularizers import Regularizer, get_regularizer

__all__ = [
    "EXTRA_STATE",
    "TaggedFormulation",
    "WeightOptions",
    "initializer",
    "initializer_spec",
    "register_weights",
    "regularizer",
    "weight_options",
]

EXTRA_STATE = "_extra_state"  # torch's own key for a module's extra state


WeightOptions = dict[str, Any]
"""``{"kernel_initializer": ..., "recurrent_regularizer": ..., ...}``: the initialisers and
regularisers by kind as the user named them (names, objects or callables), resolved on use.
A plain ``dict``, so a pickled module holds no class of ours for it."""

_OPTIONS = [
    f"{kind}_{what}"
    for what in ("initializer", "regularizer")
    for kind in ("kernel", "recurrent", "bias")
] + ["activity_regularizer"]


def weight_options(
    options: dict[str, Any], allowed: str = "initializer|regularizer"
) -> WeightOptions:
    """Take the initialiser and regulariser arguments out of ``options`` (the ones whose names end
    as ``allowed`` says), check the names now (a bad one fails at construction), keep them as given.
    """
    ends = tuple("_" + end for end in allowed.split("|"))
    opts = {name: options.pop(name, None) for name in _OPTIONS if name.endswith(ends)}
    for kind in ("kernel", "recurrent", "bias"):
        initializer(opts, kind)
        regularizer(opts, kind)
    regularizer(opts, "activity")
    return opts


def initializer_spec(fn: Initializer) -> str | Initializer:
    """A resolved initialiser back to its name when it has one (for pickles of rnnkit 0.1)."""
    return next((name for name, known in INITIALIZERS.items() if known is fn), fn)


def initializer(opts: WeightOptions, kind: WeightKind) -> Initializer:
    """The initialiser of one kind of weight (``peephole`` weights follow ``kernel``)."""
    arg = ("kernel" if kind == "peephole" else kind) + "_initializer"
    return get_initializer(opts.get(arg), arg)


def regularizer(opts: WeightOptions, kind: WeightKind | Literal["activity"]) -> Regularizer | None:
    """The penalty of one kind of weight (``peephole`` follows ``kernel``), or the activity one."""
    arg = ("kernel" if kind == "peephole" else kind) + "_regularizer"
    return get_regularizer(opts.get(arg), arg)


def register_weights(
    module: nn.Module, cell: CellMath, bias: bool, suffix: str = "", **factory: Any
) -> list[tuple[str, str, WeightKind]]:
    """Register ``cell``'s weights on ``module`` as ``name + suffix``, uninitialised, in torch's
    order; returns ``(name in the cell, parameter name, kind)`` for each."""
    names = []
    for base, spec in cell.weight_specs(bias).items():
        module.register_parameter(base + suffix, nn.Parameter(torch.empty(spec.shape, **factory)))
        names.append((base, base + suffix, spec.kind))
    return names


class TaggedFormulation(nn.Module):
    """Writes the formulation into ``state_dict`` and refuses a ``state_dict`` of another one.

    Mixed into the layers and cell modules; :meth:`_formulation_cell` says which math to tag.
    """

    def _formulation_cell(self) -> CellMath:
        raise NotImplementedError

    def _save_to_state_dict(self, destination: Any, prefix: str, keep_vars: bool) -> None:
        super()._save_to_state_dict(destination, prefix, keep_vars)
        text = self._formulation_cell().formulation()
        if text is not None:  # bytes as a tensor, so safetensors keeps it
            destination[prefix + EXTRA_STATE] = torch.tensor(list(text.encode()), dtype=torch.uint8)

    def _load_from_state_dict(
        self,
        state_dict: Mapping[str, Any],
        prefix: str,
        local_metadata: Any,
        strict: bool,
        missing_keys: list[str],
        unexpected_keys: list[str],
        error_msgs: list[str],
    ) -> None:
        """As torch's, plus: a ``state_dict`` saved from another formulation is an error naming
        both. One without the tag (torch's, or saved before rnnkit wrote tags) is taken as is."""
        saved = state_dict.get(prefix + EXTRA_STATE)
        if saved is not None:
            theirs = (  # the bytes survive a cast of the whole state_dict to float
                bytes(int(b) for b in saved.tolist()).decode()
                if isinstance(saved, Tensor)
                else str(saved)
            )
            ours = self._formulation_cell().formulation()
            if theirs != ours:
                error_msgs.append(
                    f"{type(self).__name__}: the state_dict is for {theirs}, but this module is "
                    f"{ours or 'the standard (torch.nn) formulation'}"
                )
        rest = {k: v for k, v in state_dict.items() if k != prefix + EXTRA_STATE}
        super()._load_from_state_dict(
            rest, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )
