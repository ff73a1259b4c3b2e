"""Genotype data: JSON round trips, validation naming the bad field, fuzzed loading."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nas.errors import ConfigError, GenotypeError
from nas.space.genotype import Block, Cell, Genotype
from nas.space.published import PUBLISHED, resolve_genotype
from search_spaces import NasnetSpace, get_space


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_round_trip(name: str) -> None:
    genotype = PUBLISHED[name]
    assert Genotype.from_json(genotype.to_json()) == genotype
    assert resolve_genotype(name.upper()) == genotype


def test_nasnet_a_matches_reference_output_rule() -> None:
    g = PUBLISHED["nasnet-a"]
    assert g.normal.output_states() == (0, 2, 3, 4, 5, 6)  # TF used_hiddenstates [1,0,0,0,0,0,0]
    assert g.reduce.output_states() == (3, 4, 5, 6)  # TF used_hiddenstates [1,1,1,0,0,0,0]


def test_default_outputs_are_unconsumed_blocks() -> None:
    cell = Cell(blocks=(Block(0, 1, "conv_1x1", "conv_3x3"), Block(2, 1, "skip_connect", "avg_pool_3x3")))
    assert cell.output_states() == (3,)


def _valid_dict() -> dict:
    return json.loads(PUBLISHED["nasnet-a"].to_json())


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d["normal"]["blocks"][1].update(input_a=3), "normal.blocks[1].input_a"),
        (lambda d: d["reduce"]["blocks"][0].update(op_b="conv_9x9"), "reduce.blocks[0].op_b"),
        (lambda d: d["normal"]["blocks"][0].update(combine="mul"), "normal.blocks[0].combine"),
        (lambda d: d["reduce"]["blocks"].pop(), "reduce.blocks"),
        (lambda d: d.update(schema_version=99), "schema_version"),
        (lambda d: d["normal"].update(outputs=[0, 9]), "normal.outputs"),
        (lambda d: d["normal"]["blocks"][0].update(input_b="1"), "normal.blocks[0].input_b"),
        (lambda d: d["normal"]["blocks"][0].update(extra=1), "normal.blocks[0]"),
    ],
)
def test_validation_names_the_bad_field(mutate, field: str) -> None:  # type: ignore[no-untyped-def]
    data = _valid_dict()
    mutate(data)
    with pytest.raises(GenotypeError, match=__import__("re").escape(field)):
        Genotype.from_json(json.dumps(data))


@pytest.mark.parametrize("text", ["", "{", '{"schema_version": 1', "[]", "null", '"x"', "1e999999"])
def test_malformed_json_is_a_genotype_error(text: str) -> None:
    with pytest.raises(GenotypeError):
        Genotype.from_json(text)


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 30) | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=10), children, max_size=6)
    ),
    max_leaves=40,
)
_block = st.fixed_dictionaries(
    {
        "input_a": st.integers(-1, 7),
        "input_b": st.integers(-1, 7),
        "op_a": st.sampled_from(["sep_conv_3x3", "skip_connect", "fire", "bogus"]),
        "op_b": st.sampled_from(["max_pool_3x3", "inception", "conv_1x1"]),
        "combine": st.sampled_from(["add", "concat", "sum"]),
    }
)
_cell = st.fixed_dictionaries({"blocks": st.lists(_block, min_size=0, max_size=5)})
_genotypeish = st.fixed_dictionaries(
    {"schema_version": st.sampled_from([1, 1, 2]), "normal": _cell, "reduce": _cell}
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(_json, _genotypeish))
def test_loader_fuzz_returns_valid_genotype_or_raises_own_error(data: object) -> None:
    try:
        genotype = Genotype.from_json(json.dumps(data))
    except GenotypeError:
        return
    genotype.validate()
    assert Genotype.from_json(genotype.to_json()) == genotype


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_loader_fuzz_on_raw_text(text: str) -> None:
    """Arbitrary text: only the project's own error may escape the loader."""
    try:
        genotype = Genotype.from_json(text)
    except GenotypeError:
        return
    genotype.validate()


def test_space_decode_encode_round_trip() -> None:
    space = NasnetSpace(num_blocks=5)
    assert len(space.decisions) == 2 * 5 * 5
    names = [d.name for d in space.decisions]
    assert names[:5] == [f"normal/b0/{f}" for f in ("input_a", "input_b", "op_a", "op_b", "combine")]
    choices = [len(d.choices) - 1 for d in space.decisions]
    genotype = space.decode(choices)
    assert space.encode(genotype) == choices
    assert genotype.normal.blocks[4].input_a == 5 and genotype.normal.blocks[4].combine == "concat"
    nasnet_a = PUBLISHED["nasnet-a"]
    decoded = space.decode(space.encode(nasnet_a))
    # the space encodes blocks; which states a cell concatenates follows from them (its loose ends)
    assert (decoded.normal.blocks, decoded.reduce.blocks) == (nasnet_a.normal.blocks, nasnet_a.reduce.blocks)


def test_space_errors() -> None:
    with pytest.raises(ConfigError, match="unknown search space"):
        get_space("darts")
    with pytest.raises(ConfigError, match="unknown op"):
        NasnetSpace(ops=("sep_conv_3x3", "conv_9x9"))
    with pytest.raises(GenotypeError, match="expected 50 choices"):
        NasnetSpace().decode([0])


def test_nasnet_canonical_folds_what_builds_the_same_network() -> None:
    """Swapped branches of a symmetric combine, reordered independent blocks and a block no output
    reaches leave the canonical form unchanged; a different op or input changes it."""
    from search_spaces.nasnet import NasnetSpace

    space = NasnetSpace(num_blocks=2)
    a = Block(0, 1, "sep_conv_3x3", "max_pool_3x3", "add")
    b = Block(1, 1, "conv_1x1", "skip_connect", "concat")
    swapped = [Block(x.input_b, x.input_a, x.op_b, x.op_a, x.combine) for x in (a, b)]

    def genotype(*blocks: Block, outputs: tuple[int, ...] | None = None) -> Genotype:
        return Genotype(normal=Cell(blocks, outputs), reduce=Cell((a, b)))

    key = space.canonical(genotype(a, b))
    assert space.canonical(genotype(*swapped)) == key
    assert space.canonical(genotype(b, a)) == key  # two independent blocks, in the other order
    assert space.canonical(genotype(a, Block(2, 0, "conv_3x3", "conv_3x3"), outputs=(2,))) == space.canonical(
        genotype(a, Block(1, 1, "fire", "fire"), outputs=(2,))
    )  # the second block reaches no output: ignored
    assert space.canonical(genotype(a, Block(1, 1, "conv_3x3", "skip_connect", "concat"))) != key
    assert space.canonical(genotype(a, Block(0, 1, "conv_1x1", "skip_connect", "concat"))) != key
    assert space.genotype_from_json(genotype(a, b).to_json()) == genotype(a, b)
    assert space.name == "nasnet"
