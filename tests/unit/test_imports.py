"""Every module of bot, actions and knowledge imports on its own, whichever is imported first: no import circles.

A circle between two modules shows only when one of them is the first of the pair to be imported, so each module
must be tried as the entry point. Starting one interpreter per module would take minutes (Rasa and TensorFlow
load in each), so one fresh interpreter imports every module in a shuffled order, then tries each module again
as the entry point after forgetting all of the project's modules (the third-party ones stay loaded).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "actions", "knowledge")

CHECK = textwrap.dedent(
    """
    import importlib, json, pkgutil, random, sys, traceback, warnings

    warnings.simplefilter("ignore")
    packages, seed = sys.argv[1].split(","), int(sys.argv[2])
    names = sorted(
        info.name
        for package in packages
        for info in pkgutil.walk_packages(importlib.import_module(package).__path__, package + ".")
    )
    for package in packages:  # walk_packages imported the packages themselves: start from nothing of ours
        for name in [m for m in sys.modules if m.split(".")[0] in packages]:
            del sys.modules[name]


    def attempt(name):
        try:
            importlib.import_module(name)
        except BaseException:
            return traceback.format_exc(limit=-3)
        return None


    random.Random(seed).shuffle(names)
    failures = {}
    for name in names:  # a fresh interpreter, the project's modules in a random order
        failures.setdefault(name, attempt(name))
    for name in names:  # each module first, the third-party modules already loaded
        for loaded in [m for m in sys.modules if m.split(".")[0] in packages]:
            del sys.modules[loaded]
        failures[name] = failures[name] or attempt(name)
    print(json.dumps({"modules": names, "failures": {k: v for k, v in failures.items() if v}}))
    """
)


def imports(seed: int, packages: tuple[str, ...] = PACKAGES) -> dict:
    """The modules found and the ones that failed to import, from a fresh interpreter."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", CHECK, ",".join(packages), str(seed)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.parametrize("seed", [18, 1018])
def test_every_module_imports_first_and_in_any_order(seed: int) -> None:
    found = imports(seed)
    assert {"bot.web.app", "bot.web.admin", "actions.products", "knowledge.products"} <= set(found["modules"])
    assert not found["failures"], "\n\n".join(f"{name}:\n{error}" for name, error in found["failures"].items())


def test_a_circle_is_caught(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "circle"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from circle.b import helper\n\n\ndef shared() -> int:\n    return 1\n")
    (package / "b.py").write_text("from circle.a import shared\n\n\ndef helper() -> int:\n    return shared()\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    found = imports(1, ("circle",))
    assert set(found["failures"]) == {"circle.a", "circle.b"}
    assert "circular import" in found["failures"]["circle.a"]
