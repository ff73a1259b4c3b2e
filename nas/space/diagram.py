"""A genotype's two cells as pictures: genotype -> networkx graph -> graphviz or matplotlib.

The picture is the one in Zoph et al. 2018 (Fig. 4): the cell inputs h_{i-2} and h_{i-1} on the
left, one node per block (its combine: ``+`` or ``concat``) with the op on each incoming edge, and
the concatenated cell output on the right. The graph is built once (`cell_graph`) and rendered by
graphviz's ``dot`` when the binary is installed (its layout is the best), else by matplotlib with a
layered layout (inputs left, blocks by depth, output right), so a picture never needs more than the
project's own dependencies. The suffix of the path picks PNG or SVG.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import networkx as nx

from nas.errors import NasError
from nas.space.genotype import NUM_INPUT_STATES, Cell, Genotype, display_name
from nas.space.nb201 import Nb201Genotype

if TYPE_CHECKING:
    from matplotlib.axes import Axes

logger = logging.getLogger(__name__)

FORMATS = ("png", "svg")
CELL_TITLES = {"normal": "normal cell", "reduce": "reduction cell"}
OUTPUT_NODE = "out"
_INPUT_LABELS = ("h[i-2]", "h[i-1]")  # plain text: the same in DOT and matplotlib
_COMBINE_LABELS = {"add": "+", "concat": "concat"}
_COLORS = {"input": "#a6cee3", "block": "#ffe9a8", "output": "#b2df8a"}
_OP_BOX = {"boxstyle": "round,pad=0.15", "fc": "white", "ec": "#bbbbbb", "lw": 0.6}
_LABEL_BEFORE = 0.42  # columns between an op label and the block it feeds
_LABEL_RISE = 0.2  # rows above / below the block's centre; blocks are a row apart
_NODE_CLEARANCE = 0.22  # rows: a straight line closer than this to a node's centre would cross its box


def state_node(state: int) -> str:
    """Node name of a hidden state: ``in0``/``in1`` for the cell inputs, ``b<state>`` for blocks."""
    return f"in{state}" if state < NUM_INPUT_STATES else f"b{state}"


def cell_graph(cell: Cell) -> nx.MultiDiGraph:
    """The cell as a graph: nodes carry ``label``, ``kind`` and ``depth``; edges carry the ``op``.

    A multigraph because a block may apply two ops to the same state (NASNet-A's normal cell
    averages h_{i-2} twice). ``depth`` is the longest path from the inputs, the layered layout's
    column.
    """
    graph = nx.MultiDiGraph()
    for state, label in enumerate(_INPUT_LABELS):
        graph.add_node(state_node(state), label=label, kind="input", depth=0)
    for b, block in enumerate(cell.blocks):
        state = NUM_INPUT_STATES + b
        node = state_node(state)
        depth = 1 + max(graph.nodes[state_node(s)]["depth"] for s in (block.input_a, block.input_b))
        graph.add_node(node, label=f"{state}: {_COMBINE_LABELS[block.combine]}", kind="block", depth=depth)
        graph.add_edge(state_node(block.input_a), node, op=block.op_a)
        graph.add_edge(state_node(block.input_b), node, op=block.op_b)
    last = max(d for _, d in graph.nodes(data="depth"))
    graph.add_node(OUTPUT_NODE, label="concat (output)", kind="output", depth=last + 1)
    for state in cell.output_states():
        graph.add_edge(state_node(state), OUTPUT_NODE, op="")
    return graph


def nb201_graph(genotype: Nb201Genotype) -> nx.MultiDiGraph:
    """A NAS-Bench-201 cell (Dong & Yang 2020, Fig. 1) in `cell_graph`'s form: node 0 the cell's input,
    nodes 1 and 2 each the sum of their incoming edges, node 3 the sum that is the cell's output.
    ``none`` edges (zeros: no connection) are left out, as the paper's figure leaves them. Nodes 1 and
    2 sit above and below the row of 0 and 3 (``row``), so the edge 0 -> 3 runs between them instead
    of through them, and each op label stays by its own edge."""
    graph = nx.MultiDiGraph()
    graph.add_node("n0", label="0: input", kind="input", depth=0, row=0.0)
    for node, row in ((1, 0.5), (2, -0.5)):
        graph.add_node(f"n{node}", label=f"{node}: +", kind="block", depth=node, row=row)
    graph.add_node("n3", label="3: + (output)", kind="output", depth=3, row=0.0)
    for to, frm, op in genotype.edges():
        if op != "none":
            graph.add_edge(f"n{frm}", f"n{to}", op=op)
    return graph


def draw_genotype(genotype: Genotype | Nb201Genotype, path: str | Path) -> Path:
    """Draw the cells of ``genotype`` (NASNet's two, or the NAS-Bench-201 cell) into one PNG or SVG file
    (by suffix) and return its path."""
    out = Path(path)
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise NasError(f"{out}: a cell diagram is written as .png or .svg, not {out.suffix or 'no suffix'!r}")
    out.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(genotype, Nb201Genotype):
        graphs = [(f"NAS-Bench-201 cell\n{genotype.arch}", nb201_graph(genotype))]
    else:
        graphs = [(CELL_TITLES[name], cell_graph(cell)) for name, cell in genotype.cells()]
    dot = shutil.which("dot")
    if dot is not None:
        subprocess.run([dot, f"-T{fmt}", "-o", str(out)], input=to_dot(graphs), text=True, check=True)
    else:
        logger.debug("graphviz 'dot' not on PATH: drawing %s with matplotlib", out)
        _draw_matplotlib(graphs, genotype.name, out)
    return out


def to_dot(graphs: list[tuple[str, nx.MultiDiGraph]]) -> str:
    """DOT text of the cells, one titled cluster each, left to right (written by hand: no pydot)."""
    lines = ["digraph cells {", "  rankdir=LR; newrank=true;", '  node [style="filled,rounded", shape=box];']
    for i, (title, graph) in enumerate(graphs):
        label = title.replace("\n", "\\n")  # DOT's own line break inside a quoted string
        lines.append(f'  subgraph cluster_{i} {{ label="{label}"; fontsize=18;')
        for node, data in graph.nodes(data=True):
            lines.append(f'    c{i}_{node} [label="{data["label"]}", fillcolor="{_COLORS[data["kind"]]}"];')
        for u, v, op in graph.edges(data="op"):
            lines.append(f'    c{i}_{u} -> c{i}_{v} [label="{op}", fontsize=11];')
        lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _layered_positions(graph: nx.MultiDiGraph) -> dict[str, tuple[float, float]]:
    """x = depth; y = the node's ``row`` if the graph gives one, else nodes of one depth spread evenly
    around y = 0, in state order from top to bottom."""
    by_depth: dict[int, list[str]] = {}
    for node, depth in graph.nodes(data="depth"):
        by_depth.setdefault(depth, []).append(node)
    positions: dict[str, tuple[float, float]] = {}
    for depth, nodes in by_depth.items():
        for k, node in enumerate(nodes):
            positions[node] = (float(depth), graph.nodes[node].get("row", (len(nodes) - 1) / 2 - k))
    return positions


def pyplot() -> Any:
    """pyplot on the Agg backend: files only, never a window or a server (the report uses it too)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _draw_matplotlib(graphs: list[tuple[str, nx.MultiDiGraph]], name: str | None, out: Path) -> None:
    plt = pyplot()

    widths = [1 + max(d for _, d in g.nodes(data="depth")) for _, g in graphs]
    heights = [_rows(g) for _, g in graphs]
    fig, axes = plt.subplots(
        len(graphs),
        1,
        figsize=(2.6 * max(widths) + 1, sum(1.5 * h + 1.2 for h in heights)),
        gridspec_kw={"height_ratios": [h + 0.8 for h in heights]},
        squeeze=False,
    )
    for ax, (title, graph) in zip(axes[:, 0], graphs, strict=True):
        _draw_cell(ax, graph, title)
    if name:
        title = display_name(name).replace("$", r"\$")  # data: no mathtext, no 100 KB title
        fig.suptitle(title, fontsize=15, fontweight="bold")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def _rows(graph: nx.MultiDiGraph) -> float:
    """The drawing's height in rows: the span of the nodes' y, plus one."""
    ys = [y for _, y in _layered_positions(graph).values()]
    return max(ys) - min(ys) + 1


def _draw_cell(ax: Axes, graph: nx.MultiDiGraph, title: str) -> None:
    """One cell: each op label sits just before the block it feeds, the edge bends through it.

    Labels at fixed offsets from their block (spread from above to below it: two for a NASNet block,
    up to three for NAS-Bench-201's output node) cannot overlap however the edges cross, whereas
    mid-edge labels of long edges from the inputs pile up where the edges do; the higher slots go to
    the inputs drawn higher, so the edges into a block do not cross there.
    """
    pos = _layered_positions(graph)
    for v in graph.nodes:
        incoming = sorted(graph.in_edges(v, data="op"), key=lambda e: -pos[e[0]][1])
        x1, y1 = pos[v]
        labelled = sum(1 for _, _, op in incoming if op)
        for k, (u, _, op) in enumerate(incoming):
            if op:
                rise = _LABEL_RISE * (1 - 2 * k / (labelled - 1)) if labelled > 1 else _LABEL_RISE
                label_at = (x1 - _LABEL_BEFORE, y1 + rise)
                _arrow(ax, pos[u], label_at, graph.nodes[u]["label"], "", head=False, avoid=pos.values())
                _arrow(ax, label_at, (x1, y1), "", graph.nodes[v]["label"], head=True)
                ax.text(*label_at, op, fontsize=8, ha="center", va="center", zorder=2, bbox=_OP_BOX)
            else:
                _arrow(
                    ax,
                    pos[u],
                    (x1, y1),
                    graph.nodes[u]["label"],
                    graph.nodes[v]["label"],
                    head=True,
                    avoid=pos.values(),
                )
    for node, data in graph.nodes(data=True):
        box = {"boxstyle": "round,pad=0.4", "fc": _COLORS[data["kind"]], "ec": "#333333", "lw": 0.9}
        ax.text(*pos[node], data["label"], fontsize=10, ha="center", va="center", zorder=3, bbox=box)
    xs = [x for x, _ in pos.values()]
    ys = [y for _, y in pos.values()]
    ax.set_xlim(min(xs) - 0.4, max(xs) + 0.45)
    ax.set_ylim(min(ys) - 0.55, max(ys) + 0.55)
    ax.set_title(title, fontsize=13, loc="left")
    ax.axis("off")


def _arrow(
    ax: Axes,
    start: tuple[float, float],
    end: tuple[float, float],
    start_label: str,
    end_label: str,
    *,
    head: bool,
    avoid: Iterable[tuple[float, float]] = (),
) -> None:
    """A line between two points, stopped short of the node boxes (sized by their labels) at its ends.

    A line that would run through a node of a column it skips (a long edge along a row) bends away
    from that node instead, so it is not mistaken for two edges through it.
    """
    from matplotlib.patches import FancyArrowPatch

    (x0, y0), (x1, y1) = start, end
    rad = 0.0
    for x, y in avoid:
        if x0 + 0.5 < x < x1 - 0.3 and abs(y - (y0 + (y1 - y0) * (x - x0) / (x1 - x0))) < _NODE_CLEARANCE:
            rad = 0.12 if y >= y0 + (y1 - y0) * (x - x0) / (x1 - x0) else -0.12  # > 0 bends down
    ax.add_patch(
        FancyArrowPatch(
            start,
            end,
            connectionstyle=f"arc3,rad={rad}",
            arrowstyle="-|>" if head else "-",
            mutation_scale=11,
            shrinkA=_half_width(start_label),
            shrinkB=_half_width(end_label),
            color="#555555",
            linewidth=1.0,
            zorder=1,
        )
    )


def _half_width(label: str) -> float:
    """About half a 10 pt label's box width in points (0 for no box): where a line must stop."""
    return 3.2 * len(label) + 8 if label else 0.0
