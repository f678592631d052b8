"""Configuration: every setting comes from an environment variable with a default."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


@dataclass(frozen=True)
class Settings:
    """Runtime settings of shopbot, read from the environment."""

    var_dir: Path = field(default_factory=lambda: Path(_env("SHOPBOT_VAR_DIR", str(PROJECT_ROOT / "var"))))
    store_dir: Path = field(
        default_factory=lambda: Path(_env("SHOPBOT_STORE_DIR", str(PROJECT_ROOT / "data" / "store")))
    )
    oxigraph_port: int = field(default_factory=lambda: int(_env("OXIGRAPH_PORT", "7878")))
    sparql_query_url: str = field(default_factory=lambda: _env("SPARQL_QUERY_URL", ""))
    sparql_update_url: str = field(default_factory=lambda: _env("SPARQL_UPDATE_URL", ""))
    sparql_user: str = field(default_factory=lambda: _env("SPARQL_USER", ""))
    sparql_password: str = field(default_factory=lambda: _env("SPARQL_PASSWORD", ""))
    sparql_timeout: float = field(default_factory=lambda: float(_env("SPARQL_TIMEOUT", "5")))
    catalog_cache_seconds: float = field(default_factory=lambda: float(_env("KG_CACHE_SECONDS", "2")))
    database_url: str = field(default_factory=lambda: _env("DATABASE_URL", ""))
    tracker_store_url: str = field(default_factory=lambda: _env("TRACKER_STORE_URL", ""))
    rasa_port: int = field(default_factory=lambda: int(_env("RASA_PORT", "5005")))
    action_port: int = field(default_factory=lambda: int(_env("ACTION_PORT", "5055")))
    action_endpoint_url: str = field(default_factory=lambda: _env("ACTION_ENDPOINT_URL", ""))
    web_port: int = field(default_factory=lambda: int(_env("WEB_PORT", "8000")))
    public_url: str = field(default_factory=lambda: _env("SHOPBOT_PUBLIC_URL", ""))
    rasa_public_url: str = field(default_factory=lambda: _env("RASA_PUBLIC_URL", ""))
    currency: str = field(default_factory=lambda: _env("SHOPBOT_CURRENCY", "USD"))
    staff_user: str = field(default_factory=lambda: _env("SHOPBOT_STAFF_USER", ""))
    campaign_holdout: float = field(default_factory=lambda: float(_env("SHOPBOT_CAMPAIGN_HOLDOUT", "0.10")))
    recommend_min_history: int = field(default_factory=lambda: int(_env("SHOPBOT_RECOMMEND_MIN_HISTORY", "3")))

    def __post_init__(self) -> None:
        if not 0.0 <= self.campaign_holdout <= 0.9:
            raise ValueError(f"SHOPBOT_CAMPAIGN_HOLDOUT must be between 0 and 0.9, not {self.campaign_holdout}")
        base = f"http://127.0.0.1:{self.oxigraph_port}"
        if not self.sparql_query_url:
            object.__setattr__(self, "sparql_query_url", f"{base}/query")
        if not self.sparql_update_url:
            object.__setattr__(self, "sparql_update_url", f"{base}/update")
        if not self.action_endpoint_url:
            object.__setattr__(self, "action_endpoint_url", f"http://127.0.0.1:{self.action_port}/webhook")
        if not self.database_url:
            object.__setattr__(self, "database_url", f"sqlite:///{self.var_dir / 'shop.db'}")
        if not self.tracker_store_url:
            object.__setattr__(self, "tracker_store_url", f"sqlite:///{self.var_dir / 'tracker.db'}")
        if not self.public_url:
            object.__setattr__(self, "public_url", f"http://localhost:{self.web_port}")
        if not self.rasa_public_url:
            object.__setattr__(self, "rasa_public_url", f"http://localhost:{self.rasa_port}")

    @property
    def catalog_file(self) -> Path:
        """The demo store's Turtle catalog."""
        return self.store_dir / "catalog.ttl"

    @property
    def recommender_file(self) -> Path:
        """The trained recommender (retrained by `shopbot recommend train`, or on first use if missing)."""
        return self.var_dir / "models" / "recommender.npz"

    @property
    def segments_file(self) -> Path:
        """The saved shopper-segment model (written by `shopbot segments build`)."""
        return self.var_dir / "models" / "segments.npz"

    @property
    def oxigraph_dir(self) -> Path:
        """Where the local Oxigraph server keeps its data."""
        return self.var_dir / "oxigraph"

    @property
    def local_oxigraph(self) -> bool:
        """Whether the graph is the local Oxigraph server that shopbot starts itself."""
        return self.sparql_query_url == f"http://127.0.0.1:{self.oxigraph_port}/query"

    def service_env(self) -> dict[str, str]:
        """Environment variables that give a child process these same knowledge settings."""
        return {
            "SPARQL_QUERY_URL": self.sparql_query_url,
            "SPARQL_UPDATE_URL": self.sparql_update_url,
            "KG_CACHE_SECONDS": str(self.catalog_cache_seconds),
            "DATABASE_URL": self.database_url,
            "TRACKER_STORE_URL": self.tracker_store_url,
            "SHOPBOT_PUBLIC_URL": self.public_url,
            "RASA_PUBLIC_URL": self.rasa_public_url,
            "SHOPBOT_STORE_DIR": str(self.store_dir),
            "SHOPBOT_VAR_DIR": str(self.var_dir),  # the action server reads the models the stack trained
            "SHOPBOT_CURRENCY": self.currency,
            "SHOPBOT_CAMPAIGN_HOLDOUT": str(self.campaign_holdout),
            "SHOPBOT_RECOMMEND_MIN_HISTORY": str(self.recommend_min_history),
        }



def get_settings() -> Settings:
    """Settings read from the current environment."""
    return Settings()
