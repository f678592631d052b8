"""A new catalog for the local Oxigraph server, built beside the live store and switched to whole.

``shopbot kg load FILE --new-store`` builds the catalog into a store directory of its own
(``var/oxigraph.next``) with Oxigraph's offline bulk loader (``oxigraph load``, atomic), gives it a new load id
(and the live graph's staff change counter), then asks for the switch by writing ``var/oxigraph.switch``. The
running stack (``shopbot run``, :meth:`bot.stack.Stack.follow`) sees the request within a second, stops its
Oxigraph server, puts the new directory in place of the old one and starts the server on it. Readers see the
old catalog until then, the whole new one after it, and in between (the server's restart, about a second) no
catalog at all: answers in that gap apologise ("can't look that up right now"), none is half-loaded. When no
server runs, the command switches the directories itself; a stack started later switches at start.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

from knowledge.catalog_state import change_marker, load_marker, new_load_id, read_state, without_prefixes
from knowledge.settings import Settings
from knowledge.sparql import KnowledgeGraphUnavailable, SparqlEndpoint


def staged_dir(settings: Settings) -> Path:
    """Where the next store is built."""
    return settings.oxigraph_dir.with_name(settings.oxigraph_dir.name + ".next")


def switch_request(settings: Settings) -> Path:
    """The file asking the running stack to switch to the staged store (it holds the new load id)."""
    return settings.oxigraph_dir.with_name(settings.oxigraph_dir.name + ".switch")


def oxigraph_binary() -> str:
    """The Oxigraph command line of the virtualenv (the one the local server runs)."""
    return str(Path(sys.executable).with_name("oxigraph"))


def build_store(path: Path, target: Path, last_change: int) -> str:
    """A new store at ``target`` holding the file (loaded atomically, offline), a new load id and the staff change
    counter; its load id."""
    shutil.rmtree(target, ignore_errors=True)
    loaded = subprocess.run([oxigraph_binary(), "load", "--location", str(target), "--file", str(path)],
                                capture_output=True, text=True, check=False)
    if loaded.returncode != 0:
        shutil.rmtree(target, ignore_errors=True)
        raise ValueError(f"oxigraph load {path.name} failed: {(loaded.stderr or loaded.stdout).strip()[-500:]}")
    load_id = new_load_id()
    update = load_marker(load_id) + " ;\n" + without_prefixes(change_marker(last_change))
    done = subprocess.run([oxigraph_binary(), "update", "--location", str(target), "--update", update],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ValueError(f"oxigraph update failed: {done.stderr.strip()[-500:]}")
    return load_id


def live_state(kg: SparqlEndpoint) -> Optional[tuple[Optional[str], int]]:
    """The running server's (load id, last staff change), or None when no server answers."""
    try:
        state = read_state(kg)
    except KnowledgeGraphUnavailable:
        return None
    return state.load_id, state.last_change


def put_in_place(settings: Settings) -> bool:
    """Replace the (stopped) store by the staged one, if a switch was asked for; whether it was."""
    request, staged, live = switch_request(settings), staged_dir(settings), settings.oxigraph_dir
    if not request.exists():
        return False
    if staged.is_dir():
        retired = live.with_name(f"{live.name}.old-{time.time_ns()}")
        if live.exists():
            live.rename(retired)
        staged.rename(live)
        shutil.rmtree(retired, ignore_errors=True)
    request.unlink(missing_ok=True)
    return True


def wait_for_switch(kg: SparqlEndpoint, load_id: str, timeout: float) -> Optional[float]:
    """Seconds until the server answers with this load id (None if it did not within ``timeout``)."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        state = live_state(kg)
        if state is not None and state[0] == load_id:
            return time.monotonic() - began
        time.sleep(0.2)
    return None
