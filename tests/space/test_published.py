"""Published cells against their authors' code, and their networks against their papers.

The networks are built on the ``meta`` device: shapes without memory, so the 90M-parameter ImageNet
models are counted in about a second each.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from nas.cli.main import main
from nas.model.counting import count_mult_adds, count_params
from nas.model.network import build_network, paper_config
from nas.space.genotype import Block, Cell
from nas.space.published import MACROS, PUBLISHED, PaperNetwork

TOLERANCE = 0.05

# --- Wiring: each cell in its authors' own encoding, converted here independently of published.py. ---

# TF op names (nasnet_utils.py, amoeba_net/network_utils.py) -> ours.
_TF_OPS = {
    "separable_3x3_2": "sep_conv_3x3",
    "separable_5x5_2": "sep_conv_5x5",
    "separable_7x7_2": "sep_conv_7x7",
    "avg_pool_3x3": "avg_pool_3x3",
    "max_pool_3x3": "max_pool_3x3",
    "none": "skip_connect",
    "1x7_7x1": "conv_7x1_1x7_bottleneck",
}


def _from_tf(operations: list[str], indices: list[int], used: list[int]) -> Cell:
    """A TF cell: state 0 is h_{i-1} and 1 is h_{i-2} (``_cell_base``), so both are swapped; the output
    concatenates every state ``used_hiddenstates`` marks 0 (``_combine_unused_states``)."""
    swap = {0: 1, 1: 0}
    ours = [swap.get(i, i) for i in indices]
    blocks = tuple(
        Block(ours[i], ours[i + 1], _TF_OPS[operations[i]], _TF_OPS[operations[i + 1]])
        for i in range(0, len(operations), 2)
    )
    outputs = tuple(sorted(swap.get(s, s) for s, u in enumerate(used) if not u))
    return Cell(blocks=blocks, outputs=outputs)


_ENAS_OPS = ("sep_conv_3x3", "sep_conv_5x5", "avg_pool_3x3", "max_pool_3x3", "skip_connect")


def _from_enas(fixed_arc: str) -> Cell:
    """ENAS' ``fixed_arc`` (x_id, x_op, y_id, y_op per block; layers[0] is h_{i-2} as ours) and
    ``_fixed_combine``'s output: every state no block reads."""
    arc = [int(x) for x in fixed_arc.split()]
    blocks = tuple(
        Block(arc[i], arc[i + 2], _ENAS_OPS[arc[i + 1]], _ENAS_OPS[arc[i + 3]]) for i in range(0, 20, 4)
    )
    read = {i for b in blocks for i in (b.input_a, b.input_b)}
    return Cell(blocks=blocks, outputs=tuple(s for s in range(7) if s not in read))


def _from_darts(pairs: list[tuple[str, int]], concat: list[int]) -> Cell:
    blocks = tuple(Block(pairs[i][1], pairs[i + 1][1], pairs[i][0], pairs[i + 1][0]) for i in range(0, 8, 2))
    return Cell(blocks=blocks, outputs=tuple(concat))


_CONVERTERS: dict[str, Callable[..., Cell]] = {"tf": _from_tf, "enas": _from_enas, "darts": _from_darts}
# Each cell as its authors encode it (authors_cells.json names the file each is copied from).
_ENCODED = json.loads((Path(__file__).parent / "authors_cells.json").read_text())
AUTHORS: dict[str, tuple[str, Cell, Cell]] = {
    name: (
        entry["source"],
        _CONVERTERS[entry["encoding"]](**entry["normal"]),
        _CONVERTERS[entry["encoding"]](**entry["reduce"]),
    )
    for name, entry in _ENCODED.items()
    if not name.startswith("_")
}
_ENAS_ARC = [int(x) for cell in ("normal", "reduce") for x in _ENCODED["enas"][cell]["fixed_arc"].split()]


def test_every_published_cell_has_its_authors_source() -> None:
    assert set(AUTHORS) == set(PUBLISHED) == set(MACROS)


@pytest.mark.parametrize("name", sorted(AUTHORS))
def test_wiring_matches_authors_code(name: str) -> None:
    source, normal, reduce = AUTHORS[name]
    genotype = PUBLISHED[name]
    assert genotype.normal == normal, f"{name} normal cell differs from {source}"
    assert genotype.reduce == reduce, f"{name} reduction cell differs from {source}"


# --- Sizes: every network each paper reports. ---

ROWS = [(name, preset) for name, macro in MACROS.items() for preset in macro.networks]


def _build(name: str, paper: PaperNetwork) -> torch.nn.Module:
    genotype = PUBLISHED[name]
    with torch.device("meta"):
        return build_network(genotype, paper_config(genotype, MACROS[name], paper, auxiliary=True))


def _close(ours: float, theirs: float, tolerance: float = TOLERANCE) -> bool:
    return abs(ours - theirs) <= tolerance * theirs


@pytest.mark.parametrize(("name", "preset"), ROWS, ids=[f"{n}-{p}" for n, p in ROWS])
def test_network_matches_paper(name: str, preset: str) -> None:
    paper = MACROS[name].networks[preset]
    model = _build(name, paper)
    params = count_params(model)
    assert count_params(model, include_aux=True) > params  # the aux head exists but is not counted
    if paper.code_params is not None:  # the paper's figure is not what the authors' code builds
        assert paper.note and _close(params, paper.code_params, 0.01), (params, paper.note)
    else:
        assert _close(params, paper.params), params
    if paper.mult_adds is not None:
        mult_adds = count_mult_adds(model, paper.image_size)
        assert paper.mult_adds_tolerance == TOLERANCE or paper.note  # a wider margin says why
        assert _close(mult_adds, paper.mult_adds, paper.mult_adds_tolerance), mult_adds


def test_pnas_stages_count_the_reductions() -> None:
    """TF slim's PNASNet: num_cells = 12 (large) and 9 (mobile) include the two reduction cells."""
    large = paper_config(PUBLISHED["pnas"], MACROS["pnas"], MACROS["pnas"].networks["large"])
    assert large.stage_cells() == (4, 3, 3) and large.C == 216 and large.stem_multiplier == 3
    mobile = paper_config(PUBLISHED["pnas"], MACROS["pnas"], MACROS["pnas"].networks["mobile"])
    assert mobile.stage_cells() == (3, 2, 2)


def _enas_script_params(arc: list[int], num_layers: int = 15, out_filters: int = 36) -> int:
    """Trainable parameters (aux head excluded) of melodyguan/enas `micro_child.py` with ``fixed_arc``,
    counted by walking its ``_model`` / ``_fixed_layer`` / ``_fixed_combine`` over channel counts."""

    def conv1(c_in: int, c_out: int) -> int:  # 1x1 conv + batch_norm (offset and scale)
        return c_in * c_out + 2 * c_out

    def sep(k: int, c: int) -> int:  # _fixed_conv: two (depthwise kxk, pointwise c -> c, BN)
        return 2 * (k * k * c + c * c + 2 * c)

    pool_layers = [num_layers // 3, 2 * (num_layers // 3) + 1]
    stem = 3 * out_filters
    total = 3 * 3 * 3 * stem + 2 * stem
    prev = [(stem, 32), (stem, 32)]  # (channels, size) of the two previous layers
    C = out_filters
    for layer_id in range(num_layers + 2):
        stride = 2 if layer_id in pool_layers else 1
        C *= stride
        cell_arc = arc[20:] if stride == 2 else arc[:20]
        (c0, h0), (c1, h1) = prev
        total += conv1(c0, C) if h0 != h1 or c0 != C else 0  # calibrate: factorized reduce or 1x1
        total += conv1(c1, C) if c1 != C else 0
        total += conv1(C, C)  # layer_base
        used = [0] * 7
        for i in range(0, 20, 2):
            state, op = cell_arc[i], cell_arc[i + 1]
            used[state] += 1
            if op in (0, 1):
                total += sep(3 + 2 * op, C)
            elif op == 4 and stride == 2 and state < 2:
                total += conv1(C, C)  # factorized reduction: two C/2 1x1 convs and a BN
        outputs = [s for s in range(7) if not used[s]]
        total += sum(conv1(C, C) for s in outputs if s < 2 and stride == 2)
        prev = [prev[1], (len(outputs) * C, h1 // stride)]
    return total + prev[1][0] * 10  # the FC has no bias


def test_enas_matches_its_released_script() -> None:
    script = _enas_script_params(_ENAS_ARC)
    paper = MACROS["enas"].networks["cifar"]
    params = count_params(_build("enas", paper)) - 10  # our classifier has a bias, ENAS' none
    assert params == script
    assert paper.code_params is not None and _close(script, paper.code_params, 0.001)


def _show(capsys: pytest.CaptureFixture[str], *args: str) -> dict:  # type: ignore[type-arg]
    """``nas show ... --json`` in this process (the subprocess contract is in test_cli_show.py)."""
    assert main(["show", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def test_show_builds_each_papers_network(capsys: pytest.CaptureFixture[str]) -> None:
    pnas = _show(capsys, "pnas", "--dataset", "imagenet")
    assert pnas["stage_cells"] == [3, 2, 2] and pnas["C"] == 54 and _close(pnas["params"], 5.1e6)
    assert _close(pnas["mult_adds"], 588e6) and pnas["paper"]["mult_adds"] == 588e6
    darts = _show(capsys, "darts-v2", "--dataset", "imagenet")
    assert darts["stem"] == "darts" and darts["C"] == 48 and _close(darts["params"], 4.7e6)
    amoeba = _show(capsys, "amoebanet-a", "--N", "6", "--F", "36")  # F is C in Real et al.: not C=3
    assert amoeba["C"] == 36 and amoeba["F_means"] == "C" and _close(amoeba["params"], 3.2e6)
    large = _show(capsys, "nasnet-a", "--dataset", "imagenet", "--N", "6", "--F", "4032", "--image-size", "331",
                  "--stem-multiplier", "3")  # fmt: skip
    assert large["stem_multiplier"] == 3 and _close(large["mult_adds"], 23.8e9, 0.005)
