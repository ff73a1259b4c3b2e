"""Running the `nas` command in tests as a user runs it: the installed console script, in a subprocess.

One helper for every test file (``from nas_cli import nas``), and the tiny search flags the
end-to-end tests share: children of N=1, C=4, B=2 on 256 images for one epoch train in seconds.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

NAS = str(Path(sys.executable).with_name("nas"))
"""The console script installed beside this interpreter (the README's ``.venv/bin/nas``)."""

TINY_SEARCH = ["--space", "nasnet", "--N", "1", "--C", "4", "--blocks", "2", "--epochs", "1"]
TINY_SEARCH += ["--train-size", "256", "--val-size", "128", "--batch-size", "64", "--wandb", "disabled"]


def search_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This environment, without Ray's usage stats and token prompts, plus ``extra``."""
    return {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled", **(extra or {})}


def nas(
    *args: str | Path,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """``nas ARGS...`` with output captured; the timeout bounds any hang (the test fails with it)."""
    return subprocess.run(
        [NAS, *map(str, args)],
        cwd=cwd,
        env=dict(env) if env is not None else search_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
