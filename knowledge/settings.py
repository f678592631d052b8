"""Configuration: every setting comes from an environment variable with a default."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping, Optional
from urllib.parse import urlsplit

PROJECT_ROOT = Path(__file__).resolve().parent.parent


#: Settings that are secrets: handed to a child process only by :meth:`Settings.secret_env`, never by ``service_env``.
SECRET_VARIABLES = frozenset({"RASA_API_TOKEN", "ACTION_SERVER_TOKEN", "SHOPPER_TOKEN_SECRET",
                              "HANDOFF_WEBHOOK_SECRET", "HANDOFF_RELAY_TOKEN",
                              "REDIS_PASSWORD", "SOCKETIO_MESSAGE_QUEUE"})  # the queue's URL holds Redis's password


def _parse(kind: type, text: str) -> Any:
    """A setting's value from its environment text."""
    if kind is bool:
        return text.strip().lower() in ("1", "true", "yes", "on")
    return kind(text)


def _format(value: Any) -> str:
    """A setting's value as environment text that :func:`_parse` reads back unchanged."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def setting(variable: str, default: str, kind: type = str) -> Any:
    """A settings field read from the environment variable ``variable`` (``default`` when it is unset)."""
    return field(default_factory=lambda: _parse(kind, os.environ.get(variable, default)),
                 metadata={"variable": variable, "default": default, "kind": kind})


@dataclass(frozen=True)
class Settings:
    """Runtime settings of shopbot, read from the environment."""

    var_dir: Path = setting("SHOPBOT_VAR_DIR", str(PROJECT_ROOT / "var"), Path)
    store_dir: Path = setting("SHOPBOT_STORE_DIR", str(PROJECT_ROOT / "data" / "store"), Path)
    oxigraph_port: int = setting("OXIGRAPH_PORT", "7878", int)
    sparql_query_url: str = setting("SPARQL_QUERY_URL", "")
    sparql_update_url: str = setting("SPARQL_UPDATE_URL", "")
    sparql_store_url: str = setting("SPARQL_STORE_URL", "")
    sparql_user: str = setting("SPARQL_USER", "")
    sparql_password: str = setting("SPARQL_PASSWORD", "")
    sparql_timeout: float = setting("SPARQL_TIMEOUT", "5", float)
    catalog_cache_seconds: float = setting("KG_CACHE_SECONDS", "2", float)
    database_url: str = setting("DATABASE_URL", "")
    tracker_store_url: str = setting("TRACKER_STORE_URL", "")
    rasa_port: int = setting("RASA_PORT", "5005", int)
    action_port: int = setting("ACTION_PORT", "5055", int)
    action_endpoint_url: str = setting("ACTION_ENDPOINT_URL", "")
    web_port: int = setting("WEB_PORT", "8000", int)
    public_url: str = setting("SHOPBOT_PUBLIC_URL", "")
    rasa_public_url: str = setting("RASA_PUBLIC_URL", "")
    currency: str = setting("SHOPBOT_CURRENCY", "USD")
    # Public data sets for evaluation and benchmarks only (MovieLens 100k, UCI Online Retail), never copied in.
    datasets_dir: Path = setting("SHOPBOT_DATASETS_DIR", str(PROJECT_ROOT.parent / "shared" / "data"), Path)
    staff_user: str = setting("SHOPBOT_STAFF_USER", "")
    # --- security: who may reach what, and how much work one request may cause ---
    rasa_host: str = setting("RASA_HOST", "127.0.0.1")
    action_host: str = setting("ACTION_HOST", "127.0.0.1")
    web_host: str = setting("WEB_HOST", "127.0.0.1")
    rasa_api_token: str = setting("RASA_API_TOKEN", "")
    action_server_token: str = setting("ACTION_SERVER_TOKEN", "")
    shopper_token_secret: str = setting("SHOPPER_TOKEN_SECRET", "")
    shopper_token_seconds: int = setting("SHOPPER_TOKEN_SECONDS", "900", int)
    demo_signin: bool = setting("SHOPBOT_DEMO_SIGNIN", "true", bool)
    max_message_chars: int = setting("SHOPBOT_MAX_MESSAGE_CHARS", "5000", int)
    trusted_proxies: str = setting("SHOPBOT_TRUSTED_PROXIES", "")
    staff_token_days: float = setting("STAFF_TOKEN_DAYS", "30", float)
    staff_sparql_rows: int = setting("STAFF_SPARQL_MAX_ROWS", "1000", int)
    staff_sparql_bytes: int = setting("STAFF_SPARQL_MAX_BYTES", "2000000", int)
    staff_sparql_seconds: float = setting("STAFF_SPARQL_SECONDS", "15", float)
    staff_sparql_memory_mb: int = setting("STAFF_SPARQL_MEMORY_MB", "2048", int)
    campaign_holdout: float = setting("SHOPBOT_CAMPAIGN_HOLDOUT", "0.10", float)
    recommend_min_history: int = setting("SHOPBOT_RECOMMEND_MIN_HISTORY", "3", int)
    # --- hand-over to a person ---
    agent_presence_seconds: float = setting("SHOPBOT_AGENT_PRESENCE_SECONDS", "60", float)
    handoff_webhook_url: str = setting("HANDOFF_WEBHOOK_URL", "")
    handoff_webhook_secret: str = setting("HANDOFF_WEBHOOK_SECRET", "")
    handoff_relay_token: str = setting("HANDOFF_RELAY_TOKEN", "")
    rasa_internal_url: str = setting("RASA_INTERNAL_URL", "")
    # --- several Rasa replicas (docs/scaling.md): Redis lock store and socket.io message queue ---
    lock_store_type: str = setting("LOCK_STORE_TYPE", "in_memory")
    redis_host: str = setting("REDIS_HOST", "127.0.0.1")
    redis_port: int = setting("REDIS_PORT", "6379", int)
    redis_password: str = setting("REDIS_PASSWORD", "")
    redis_lock_db: int = setting("REDIS_LOCK_DB", "1", int)
    socketio_message_queue: str = setting("SOCKETIO_MESSAGE_QUEUE", "")

    def __post_init__(self) -> None:
        if not 0.0 <= self.campaign_holdout <= 0.9:
            raise ValueError(f"SHOPBOT_CAMPAIGN_HOLDOUT must be between 0 and 0.9, not {self.campaign_holdout}")
        base = f"http://127.0.0.1:{self.oxigraph_port}"
        if not self.sparql_query_url:
            object.__setattr__(self, "sparql_query_url", f"{base}/query")
        if not self.sparql_store_url and self.sparql_query_url == f"{base}/query":
            # the local Oxigraph server's Graph Store endpoint (bulk loads)
            object.__setattr__(self, "sparql_store_url", f"{base}/store")
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
        if not self.rasa_internal_url:
            object.__setattr__(self, "rasa_internal_url", f"http://127.0.0.1:{self.rasa_port}")
        if self.agent_presence_seconds <= 0:
            raise ValueError("SHOPBOT_AGENT_PRESENCE_SECONDS must be positive")
        if self.lock_store_type not in ("in_memory", "redis"):
            raise ValueError(f"LOCK_STORE_TYPE must be in_memory or redis, not {self.lock_store_type!r}")

    @property
    def catalog_file(self) -> Path:
        """The demo store's Turtle catalog."""
        return self.store_dir / "catalog.ttl"

    @property
    def recommender_file(self) -> Path:
        """The trained recommender (retrained by `shopbot recommend train`, or on first use if missing)."""
        return self.var_dir / "models" / "recommender.npz"

    @property
    def text_index_file(self) -> Path:
        """Sentence vectors of the products' texts for descriptive search (rebuilt when texts change)."""
        return self.var_dir / "models" / "product-text-vectors.npz"

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

    @property
    def https(self) -> bool:
        """Whether shoppers and staff reach the web app over HTTPS (then cookies are Secure and HSTS is sent)."""
        return self.public_url.lower().startswith("https://")

    @property
    def store_origin(self) -> str:
        """The origin of the store page: the only one allowed to call the chat channels from a browser (CORS)."""
        parts = urlsplit(self.public_url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def chat_origins(self) -> tuple[str, ...]:
        """Origins whose pages may use the chat channels: the store's, and its loopback aliases when it is local."""
        parts = urlsplit(self.public_url)
        origins = [self.store_origin]
        if parts.hostname in ("localhost", "127.0.0.1", "::1"):
            port = f":{parts.port}" if parts.port else ""
            origins += [f"{parts.scheme}://{host}{port}" for host in ("localhost", "127.0.0.1", "[::1]")]
        return tuple(dict.fromkeys(origins))

    def secret(self, purpose: str) -> str:
        """A secret for one purpose: from its environment variable, else derived from ``var/secret.key``.

        ``purpose`` is ``shopper-token`` (``SHOPPER_TOKEN_SECRET``), ``action-server`` (``ACTION_SERVER_TOKEN``),
        ``handoff-relay`` (``HANDOFF_RELAY_TOKEN``: the web app's calls to the Rasa server's hand-over relay) or
        ``handoff-webhook`` (``HANDOFF_WEBHOOK_SECRET``: the signature of the helpdesk webhook). The key file is
        generated once (random, mode 0600) for the embedded default;
        every process of one machine that shares ``SHOPBOT_VAR_DIR`` derives the same secret from it.
        """
        explicit = {"shopper-token": self.shopper_token_secret, "action-server": self.action_server_token,
                    "handoff-relay": self.handoff_relay_token, "handoff-webhook": self.handoff_webhook_secret}
        if purpose not in explicit:
            raise ValueError(f"unknown secret {purpose!r}")
        if explicit[purpose]:
            return explicit[purpose]
        master = _local_key(self.var_dir / "secret.key")
        return hmac.new(master, f"shopbot {purpose}".encode(), hashlib.sha256).hexdigest()

    @classmethod
    def from_env(cls, env: Optional[Mapping[str, str]] = None) -> "Settings":
        """Settings read from ``env`` (default: this process's environment); unset variables take their defaults."""
        env = os.environ if env is None else env
        return cls(**{f.name: _parse(f.metadata["kind"], env.get(f.metadata["variable"], f.metadata["default"]))
                      for f in fields(cls)})

    def to_env(self) -> dict[str, str]:
        """Every setting as the environment variable that gives it (``Settings.from_env(s.to_env()) == s``)."""
        return {f.metadata["variable"]: _format(getattr(self, f.name)) for f in fields(self)}

    def service_env(self) -> dict[str, str]:
        """The environment that gives a child process these same settings, secrets left out (see ``secret_env``)."""
        return {name: value for name, value in self.to_env().items() if name not in SECRET_VARIABLES}

    def lock_store_env(self) -> dict[str, str]:
        """The variables ``bot/endpoints.yml`` reads for Rasa's lock store (all set: Rasa refuses unset ones)."""
        return {"LOCK_STORE_TYPE": self.lock_store_type, "REDIS_HOST": self.redis_host,
                "REDIS_PORT": str(self.redis_port), "REDIS_PASSWORD": self.redis_password,
                "REDIS_LOCK_DB": str(self.redis_lock_db)}

    def secret_env(self, *purposes: str) -> dict[str, str]:
        """The environment variables carrying the named secrets to a child process (never its command line)."""
        names = {"shopper-token": "SHOPPER_TOKEN_SECRET", "action-server": "ACTION_SERVER_TOKEN",
                 "handoff-relay": "HANDOFF_RELAY_TOKEN", "handoff-webhook": "HANDOFF_WEBHOOK_SECRET"}
        return {names[purpose]: self.secret(purpose) for purpose in purposes}


def _local_key(path: Path) -> bytes:
    """The random key in ``path``, written once (readable by its owner only) when there is none yet."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_hex(32) + "\n")
        try:
            os.link(draft, path)  # atomic: of processes starting at once, the first key wins
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return bytes.fromhex(path.read_text().strip())


def get_settings() -> Settings:
    """Settings read from the current environment."""
    return Settings.from_env()
