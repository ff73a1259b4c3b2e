"""`nas.api`, the stable Python entry points: its doctests, docs/api.md's code run as written, and the
checkpoints it reads (this format, and bare ``state_dict``s of older runs with their ``result.json``)."""

from __future__ import annotations

import doctest
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import nas
import nas.api
from nas.errors import ConfigError, DataError, GenotypeError
from nas.model.checkpoint import network_state
from nas.model.nb201 import Nb201Network
from nas.model.network import NetworkConfig, build_network
from nas.space.nb201 import Nb201Genotype
from nas.space.published import resolve_genotype

REPO_ROOT = Path(__file__).resolve().parents[1]
DOC = REPO_ROOT / "docs" / "api.md"
NB201_ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"


def test_doctests() -> None:
    failed, attempted = doctest.testmod(nas.api, optionflags=doctest.ELLIPSIS)
    assert attempted >= 8 and failed == 0


def test_import_nas_stays_light_and_reexports_the_api() -> None:
    code = (
        "import sys, nas; assert 'torch' not in sys.modules; nas.load_genotype; assert 'torch' in sys.modules"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert nas.build_network is nas.api.build_network and set(nas.__all__) == set(nas.api.__all__)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        nas.nope  # noqa: B018


def test_docs_api_code_runs_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every python block of docs/api.md, in order, in one namespace, beside a `nas train` folder."""
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert len(blocks) == 2
    run = tmp_path / "results" / "train" / "nasnet-a"
    run.mkdir(parents=True)
    model = build_network(resolve_genotype("nasnet-a"), NetworkConfig(N=1, C=4))
    torch.save(network_state(model, resolve_genotype("nasnet-a")), run / "model.pt")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), namespace)
    assert (run / "model.pt2").is_file()


def test_build_network_sizes_by_F_or_C() -> None:
    genotype = nas.load_genotype("nasnet-a")
    assert nas.build_network(genotype, N=6, F=768).config.C == 32  # NASNet-A's CIFAR model, 6 @ 768
    assert nas.build_network(genotype, N=1).config.C == 16
    assert nas.build_network("darts-v2", N=1, C=4, num_classes=3).classifier.out_features == 3
    with pytest.raises(ConfigError, match="not both"):
        nas.build_network(genotype, C=4, F=96)


@pytest.mark.parametrize("layout", ["train", "transfer"])
def test_older_bare_state_dicts_load_with_their_result_json(layout: str, tmp_path: Path) -> None:
    """Before checkpoints described themselves, `nas train` saved a bare ``state_dict`` and `nas transfer`
    ``{"model": state_dict, "optimizer": ...}``; the run's result.json names the genotype and config."""
    genotype = resolve_genotype("nasnet-a")
    config = NetworkConfig(N=1, C=4, auxiliary=True)
    model = build_network(genotype, config).eval()
    weights = model.state_dict()
    record = {"genotype": genotype.to_dict(), "network": config.to_dict()}
    if layout == "train":
        file = tmp_path / "model.pt"
        torch.save(weights, file)
    else:
        file = tmp_path / "ray" / "transfer" / "checkpoint_000003" / "state.pt"
        file.parent.mkdir(parents=True)
        torch.save({"model": weights, "optimizer": {}, "epoch": 3}, file)
        record = {"top1": 0.5, "config": record}
    (tmp_path / "result.json").write_text(json.dumps(record))
    loaded = nas.load_checkpoint(tmp_path)
    assert not loaded.training and loaded.aux_head is not None
    assert nas.load_checkpoint(file, auxiliary=False).aux_head is None
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(loaded(images).logits, model(images).logits)
    os.remove(tmp_path / "result.json")
    with pytest.raises(DataError, match="weights without their genotype and config"):
        nas.load_checkpoint(file)


def test_weights_that_do_not_fit_the_recorded_network_are_a_data_error(tmp_path: Path) -> None:
    genotype = resolve_genotype("nasnet-a")
    state = network_state(build_network(genotype, NetworkConfig(N=1, C=4)), genotype)
    state["network"] = json.dumps(NetworkConfig(N=1, C=8).to_dict())
    torch.save(state, tmp_path / "model.pt")
    with pytest.raises(DataError, match="do not fit the recorded network"):
        nas.load_checkpoint(tmp_path)


def test_build_network_for_a_nas_bench_201_cell(tmp_path: Path) -> None:
    """An arch string, its genotype file or the genotype itself build the benchmark's network; the
    NASNet-only settings are refused, and a malformed arch string names its edge."""
    genotype = nas.load_genotype(NB201_ARCH)
    assert isinstance(genotype, Nb201Genotype) and genotype.arch == NB201_ARCH
    genotype.save(tmp_path / "cell.json")
    net = nas.build_network(tmp_path / "cell.json", N=1, C=8).eval()
    assert isinstance(net, Nb201Network) and (net.config.N, net.config.C) == (1, 8)
    assert net(torch.zeros(2, 3, 32, 32)).logits.shape == (2, 10)
    assert nas.build_network(genotype, N=1, C=8, num_classes=3).classifier.out_features == 3
    with pytest.raises(ConfigError, match="sized by N and C"):
        nas.build_network(genotype, F=96)
    with pytest.raises(ConfigError, match="32x32 CIFAR"):
        nas.build_network(genotype, dataset="imagenet")
    with pytest.raises(ConfigError, match="no auxiliary head"):
        nas.build_network(genotype, auxiliary=True)
    with pytest.raises(GenotypeError, match="edge 2<-1: unknown op 'conv_5x5'"):
        nas.load_genotype(NB201_ARCH.replace("avg_pool_3x3~1", "conv_5x5~1"))


@pytest.mark.parametrize("layout", ["self-describing", "bare"])
def test_nas_bench_201_checkpoints_load(layout: str, tmp_path: Path) -> None:
    """`nas train`'s ``model.pt`` of an NB201 cell, and an older bare ``state_dict`` beside the
    ``result.json`` that names the cell, load into the same network with the same outputs."""
    genotype = Nb201Genotype.from_arch(NB201_ARCH)
    config = NetworkConfig(N=1, C=8)
    model = nas.build_network(genotype, N=1, C=8).eval()
    if layout == "bare":
        torch.save(model.state_dict(), tmp_path / "model.pt")
        record = {"genotype": genotype.to_dict(), "network": config.to_dict()}
        (tmp_path / "result.json").write_text(json.dumps(record))
    else:
        torch.save(network_state(model, genotype), tmp_path / "model.pt")
    loaded = nas.load_checkpoint(tmp_path)
    assert isinstance(loaded, Nb201Network) and not loaded.training
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(loaded(images).logits, model(images).logits)
