"""How the shopbot commands talk to the person running them."""


def say(message: str) -> None:
    """Print one progress line, flushed at once."""
    print(f"[shopbot] {message}", flush=True)
