"""Settings are the one source of configuration: every field round-trips through the environment, and a child
process started with ``service_env`` (plus its secrets) sees the same settings."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from bot.services import child_env
from knowledge.settings import PROJECT_ROOT, SECRET_VARIABLES, Settings


def unusual(tmp_path: Path) -> Settings:
    """Settings with every field away from its default."""
    values = dict(
        var_dir=tmp_path / "var", store_dir=tmp_path / "store", oxigraph_port=17878,
        sparql_query_url="http://graph.internal:3030/shop/query",
        sparql_update_url="http://graph.internal:3030/shop/update",
        sparql_store_url="http://graph.internal:3030/shop/data", sparql_user="reader", sparql_password="p@ss word",
        sparql_timeout=7.25, catalog_cache_seconds=0.5, database_url="postgresql://shop@db/shop",
        tracker_store_url="postgresql://shop@db/trackers", rasa_port=15005, action_port=15055,
        action_endpoint_url="http://actions.internal:15055/webhook", web_port=18000,
        public_url="https://shop.example.com", rasa_public_url="https://chat.example.com", currency="EUR",
        datasets_dir=tmp_path / "datasets", staff_user="cara", rasa_host="0.0.0.0", action_host="10.0.0.2",
        web_host="10.0.0.3", rasa_api_token="rasa-token", action_server_token="action-token",
        shopper_token_secret="shopper-secret", shopper_token_seconds=60, demo_signin=False, max_message_chars=900,
        trusted_proxies="10.0.0.0/8", staff_token_days=2.5, staff_sparql_rows=10, staff_sparql_bytes=1000,
        staff_sparql_seconds=3.5, staff_sparql_memory_mb=512, campaign_holdout=0.25, recommend_min_history=5,
        agent_presence_seconds=12.5, handoff_webhook_url="https://desk.example.com/hook",
        handoff_webhook_secret="hook-secret", handoff_relay_token="relay-token",
        rasa_internal_url="http://rasa.internal:15005", lock_store_type="redis", redis_host="redis.internal",
        redis_port=16379, redis_password="redis pass", redis_lock_db=3,
        socketio_message_queue="redis://:redis%20pass@redis.internal:16379/2",
    )
    assert set(values) == {f.name for f in fields(Settings)}, "give every setting an unusual value here"
    settings = Settings(**values)
    defaults = Settings.from_env({})
    assert all(getattr(settings, f.name) != getattr(defaults, f.name) for f in fields(Settings))
    return settings


def test_every_setting_round_trips_through_the_environment(tmp_path: Path) -> None:
    settings = unusual(tmp_path)
    assert Settings.from_env(settings.to_env()) == settings
    assert Settings.from_env({}) == Settings.from_env(Settings.from_env({}).to_env())


def test_the_environment_is_read_when_no_mapping_is_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in unusual(tmp_path).to_env().items():
        monkeypatch.setenv(name, value)
    assert Settings.from_env() == Settings() == unusual(tmp_path)


def test_defaults_follow_the_var_dir_and_the_local_graph(tmp_path: Path) -> None:
    settings = Settings.from_env({"SHOPBOT_VAR_DIR": str(tmp_path), "OXIGRAPH_PORT": "7000"})
    assert settings.database_url == f"sqlite:///{tmp_path / 'shop.db'}"
    assert settings.recommender_file == tmp_path / "models" / "recommender.npz"
    assert settings.sparql_query_url == "http://127.0.0.1:7000/query" and settings.local_oxigraph
    assert Settings.from_env({}).var_dir == PROJECT_ROOT / "var"


def test_service_env_carries_everything_but_the_secrets(tmp_path: Path) -> None:
    settings = unusual(tmp_path)
    env = settings.service_env()
    assert not SECRET_VARIABLES & set(env)
    for name in ("SHOPBOT_VAR_DIR", "SPARQL_USER", "SPARQL_PASSWORD", "SPARQL_TIMEOUT", "SPARQL_STORE_URL"):
        assert env[name] == settings.to_env()[name]


def test_a_child_process_sees_the_same_settings(tmp_path: Path) -> None:
    settings = unusual(tmp_path)
    secrets = {**settings.secret_env("shopper-token", "action-server", "handoff-relay", "handoff-webhook"),
               "RASA_API_TOKEN": settings.rasa_api_token, "REDIS_PASSWORD": settings.redis_password,
               "SOCKETIO_MESSAGE_QUEUE": settings.socketio_message_queue}
    script = "import json; from knowledge.settings import get_settings; print(json.dumps(get_settings().to_env()))"
    output = subprocess.run([sys.executable, "-c", script], env=child_env({**settings.service_env(), **secrets}),
                            cwd=str(PROJECT_ROOT), capture_output=True, text=True, check=True).stdout
    assert Settings.from_env(json.loads(output)) == settings
