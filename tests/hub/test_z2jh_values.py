"""hub/z2jh-values.yaml, checked without a cluster: every JupyterHub option it sets exists
with a value of the right kind, and its pre-spawn hook is what the one-machine spawner does.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from traitlets.config import Config

VALUES = Path(__file__).resolve().parents[2] / "hub" / "z2jh-values.yaml"
CLASSES = {
    "JupyterHub": "jupyterhub.app:JupyterHub",
    "Authenticator": "jupyterhub.auth:Authenticator",
    "NativeAuthenticator": "nativeauthenticator:NativeAuthenticator",
}


def _class(path: str) -> type:
    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)


@pytest.fixture(scope="module")
def values() -> dict:
    return yaml.safe_load(VALUES.read_text())


def test_every_option_exists_and_takes_its_value(values: dict) -> None:
    pytest.importorskip("nativeauthenticator")
    for section, options in values["hub"]["config"].items():
        cls = _class(CLASSES[section])
        traits = cls.class_traits(config=True)
        for name, value in options.items():
            assert name in traits, f"{section}.{name} is not an option of {cls.__name__}"
            if isinstance(value, str) and "." in value and name.endswith("_class"):
                module, _, attribute = value.rpartition(".")
                assert getattr(importlib.import_module(module), attribute)
            else:
                traits[name].validate(None, value)  # raises TraitError for a wrong kind


def test_the_pre_spawn_hook_gives_the_pod_the_users_credentials(
    values: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lasair_nb.admin import users  # noqa: PLC0415

    calls = []

    def fake_environment(name: str, admin: bool) -> dict[str, str]:
        calls.append((name, admin))
        return {"LASAIR_USER": name, "LASAIR_PASSWORD": "from-the-archive"}

    monkeypatch.setattr(users, "server_environment", fake_environment)
    c = Config()
    exec(compile(values["hub"]["extraConfig"]["lasair"], "extraConfig", "exec"), {"c": c})
    hook = c.KubeSpawner.pre_spawn_hook
    assert inspect.iscoroutinefunction(hook)
    spawner = SimpleNamespace(user=SimpleNamespace(name="alice", admin=False), environment={})
    # in a thread of its own: a browser test of the same session may hold this thread's loop
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, hook(spawner)).result()
    assert calls == [("alice", False)]
    assert spawner.environment == {"LASAIR_USER": "alice", "LASAIR_PASSWORD": "from-the-archive"}


def test_shared_notebooks_are_mounted_read_only(values: dict) -> None:
    mounts = values["singleuser"]["storage"]["extraVolumeMounts"]
    system = [m for m in mounts if m["mountPath"].endswith("/system")]
    assert system and all(m.get("readOnly") for m in system)
    assert values["cull"] == {"enabled": True, "timeout": 3600}
