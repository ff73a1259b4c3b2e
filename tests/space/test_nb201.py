"""NAS-Bench-201 genotypes: arch string <-> genotype <-> JSON <-> choices, and validation by edge."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nas.errors import ConfigError, GenotypeError
from nas.space.genotype import Genotype
from nas.space.load import genotype_from_data, load_genotype
from nas.space.nb201 import EDGES, NB201_OPS, Nb201Genotype
from nas.space.published import PUBLISHED, resolve_any_genotype, resolve_genotype
from search_spaces import SPACES, NasnetSpace, Nb201Space, get_nasnet_space, get_space

# The example of the benchmark's README and our table's second row.
ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
SPACE = Nb201Space()


def test_arch_string_round_trip() -> None:
    genotype = Nb201Genotype.from_arch(ARCH)
    assert genotype.ops == ("nor_conv_3x3",) * 2 + (
        "avg_pool_3x3",
        "skip_connect",
        "nor_conv_3x3",
        "skip_connect",
    )
    assert genotype.arch == str(genotype) == ARCH
    assert genotype.edges()[2] == (2, 1, "avg_pool_3x3")
    assert Nb201Genotype.from_json(genotype.to_json()) == genotype
    assert SPACE.decode(SPACE.encode(genotype)) == genotype
    assert SPACE.encode(genotype) == [3, 3, 4, 1, 3, 1]
    assert SPACE.canonical(genotype) == ARCH


@given(st.lists(st.integers(0, len(NB201_OPS) - 1), min_size=len(EDGES), max_size=len(EDGES)))
def test_choices_round_trip(choices: list[int]) -> None:
    genotype = SPACE.decode(choices)
    assert SPACE.encode(genotype) == choices
    assert Nb201Genotype.from_arch(genotype.arch) == genotype
    assert SPACE.genotype_from_json(json.loads(genotype.to_json())) == genotype
    assert SPACE.genotype_from_json(genotype.arch) == genotype


def test_the_space_as_searchers_see_it() -> None:
    assert SPACES["nas-bench-201"] is Nb201Space and get_space("nas-bench-201") == SPACE
    assert SPACE.name == "nas-bench-201"
    assert [d.name for d in SPACE.decisions][:3] == ["node1/in0/op", "node2/in0/op", "node2/in1/op"]
    assert {d.kind for d in SPACE.decisions} == {"op"}
    assert all(d.choices == NB201_OPS for d in SPACE.decisions)
    cells = {SPACE.canonical(SPACE.decode((0, 0, *c))) for c in itertools.product(range(5), repeat=4)}
    assert len(cells) == 5**4  # distinct choices, distinct cells
    assert get_nasnet_space("nasnet", num_blocks=2) == NasnetSpace(num_blocks=2)
    with pytest.raises(ConfigError, match="NASNet space only"):
        get_nasnet_space("nas-bench-201")
    with pytest.raises(ConfigError, match="has no setting"):
        get_space("nas-bench-201", num_blocks=5)


def test_name_is_a_label_not_part_of_the_cell() -> None:
    named = Nb201Genotype.from_arch(ARCH, name="best")
    assert named == Nb201Genotype.from_arch(ARCH) and named.to_dict()["name"] == "best"
    assert Nb201Genotype.from_json(named.to_json()).name == "best"


@pytest.mark.parametrize(
    ("arch", "message"),
    [
        (ARCH.replace("avg_pool_3x3", "conv"), "edge 2<-1: unknown op 'conv'"),
        (
            ARCH.replace("|skip_connect~0|", "|skip_connect~1|"),
            "edge 3<-0: expected 'op~0', got 'skip_connect~1'",
        ),
        (ARCH.replace("skip_connect~2", "skip_connect"), "edge 3<-2: expected 'op~2', got 'skip_connect'"),
        ("|nor_conv_3x3~0|+|nor_conv_3x3~0|", "expected 3 nodes joined by '+'"),
        (ARCH.replace("|avg_pool_3x3~1|", "|"), "node 2: expected 2 edge(s), got 1"),
        (ARCH.replace("+|nor_conv_3x3~0|", "+nor_conv_3x3~0|"), "node 2: expected '|op~i|...|'"),
        ("|none~0|+|none~0|none~1|+|none~0|none~1|~2|", "edge 3<-2: unknown op ''"),
        ("", "expected 3 nodes"),
        ("|" + "x" * 100_000, "expected 3 nodes"),
    ],
)
def test_malformed_arch_string_names_the_edge(arch: str, message: str) -> None:
    with pytest.raises(GenotypeError, match=re.escape(message)) as info:
        Nb201Genotype.from_arch(arch)
    assert "\n" not in str(info.value) and len(str(info.value)) < 300


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"schema_version": 2, "arch": ARCH}, "schema_version: expected 1, got 2"),
        ({"schema_version": True, "arch": ARCH}, "schema_version: expected 1, got True"),
        ({"schema_version": 1, "space": "nasnet", "arch": ARCH}, "space: expected 'nas-bench-201'"),
        ({"schema_version": 1, "space": "nas-bench-201"}, "arch: expected an arch string, got None"),
        ({"schema_version": 1, "arch": ARCH, "extra": 1}, "unknown field(s) ['extra']"),
        ({"schema_version": 1, "arch": ARCH, "name": 5}, "name: expected a string, got 5"),
        (
            {"schema_version": 1, "arch": ARCH.replace("avg_pool_3x3", "max")},
            "arch: edge 2<-1: unknown op 'max'",
        ),
        ([ARCH], "expected a JSON object"),
    ],
)
def test_json_validation(data: object, message: str) -> None:
    with pytest.raises(GenotypeError, match=re.escape(message)):
        Nb201Genotype.from_json(json.dumps(data))


def test_in_memory_validation() -> None:
    with pytest.raises(GenotypeError, match="6 edge ops"):
        Nb201Genotype(("none",) * 5)
    with pytest.raises(GenotypeError, match="edge 3<-2: unknown op 'sep_conv_3x3'"):
        Nb201Genotype(("none",) * 5 + ("sep_conv_3x3",))
    with pytest.raises(GenotypeError, match="choice 5 out of range"):
        SPACE.decode([0, 0, 0, 0, 0, 5])
    with pytest.raises(GenotypeError, match="expected 6 choices"):
        SPACE.decode([0])
    with pytest.raises(GenotypeError, match="expected a NAS-Bench-201 genotype"):
        SPACE.encode(PUBLISHED["nasnet-a"])  # type: ignore[arg-type]
    with pytest.raises(GenotypeError, match="NASNet-space"):
        SPACE.genotype_from_json(PUBLISHED["nasnet-a"].to_json())


def test_load_dispatches_on_content(tmp_path: Path) -> None:
    nb201, nasnet = Nb201Genotype.from_arch(ARCH), PUBLISHED["darts-v2"]
    files = {"a.json": nb201.to_json(), "b.json": nasnet.to_json(), "c.txt": ARCH + "\n"}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    assert load_genotype(tmp_path / "a.json") == nb201
    assert load_genotype(str(tmp_path / "b.json")) == nasnet
    assert load_genotype(tmp_path / "c.txt") == nb201
    assert load_genotype(ARCH) == nb201
    assert genotype_from_data({"schema_version": 1, "arch": ARCH}) == nb201
    assert isinstance(genotype_from_data(json.loads(nasnet.to_json())), Genotype)
    assert resolve_any_genotype(str(tmp_path / "a.json")).name == "a"  # named after its file
    assert resolve_any_genotype(ARCH) == nb201
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"schema_version": 1, "arch": ARCH.replace("~2", "~9")}))
    with pytest.raises(GenotypeError, match=re.escape(f"{bad}: arch: edge 3<-2: expected 'op~2'")):
        load_genotype(bad)
    with pytest.raises(GenotypeError, match="NASNet-space cells only"):
        resolve_genotype(ARCH)
