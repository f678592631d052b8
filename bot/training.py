"""Training the Rasa model, only when its inputs changed."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from pathlib import Path

from bot.services import child_env
from knowledge.settings import PROJECT_ROOT

DOMAIN = PROJECT_ROOT / "bot" / "domain"  # every file in it is merged into one domain
CONFIG = PROJECT_ROOT / "config.yml"
TRAINING_DATA = [PROJECT_ROOT / "data" / name for name in ("nlu", "rules", "stories")]
MODELS = PROJECT_ROOT / "models"
CUSTOM_COMPONENTS = PROJECT_ROOT / "bot" / "nlu"
INPUTS = [CONFIG, DOMAIN, *TRAINING_DATA, CUSTOM_COMPONENTS]


def _files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in {".yml", ".yaml", ".py", ".txt"})


def fingerprint() -> str:
    """A hash of everything the model is trained from."""
    digest = hashlib.sha256()
    for path in INPUTS:
        for file in _files(path):
            digest.update(str(file.relative_to(PROJECT_ROOT)).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def model_path() -> Path:
    """Where the model for the current inputs lives."""
    return MODELS / f"shopbot-{fingerprint()}.tar.gz"


def train(force: bool = False) -> tuple[Path, float]:
    """Train the model unless one for the current inputs exists; return its path and the seconds spent."""
    target = model_path()
    if target.exists() and not force:
        return target, 0.0
    started = time.monotonic()
    command = [
        sys.executable, "-m", "rasa", "train",
        "--config", str(CONFIG), "--domain", str(DOMAIN),
        "--data", *[str(p) for p in TRAINING_DATA],
        "--out", str(MODELS), "--fixed-model-name", target.name.removesuffix(".tar.gz"),
    ]
    subprocess.run(command, check=True, cwd=str(PROJECT_ROOT), env=child_env())
    if not target.exists():
        raise RuntimeError(f"rasa train finished but {target} is missing")
    return target, time.monotonic() - started
