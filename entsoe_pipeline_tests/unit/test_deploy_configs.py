"""deploy/dagster-docker.yaml and deploy/dagster-k8s.yaml: instance files Dagster accepts, whose run
launcher accepts its configuration, and which keep every setting of the project's dagster.yaml (the
storage, the `entsoe_api` pool limit, the run queue, retries, ...). Offline: no Docker daemon, no
Kubernetes cluster, no database.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import re
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
VARIANTS = {
    "dagster-docker.yaml": ("dagster_docker", "DockerRunLauncher"),
    "dagster-k8s.yaml": ("dagster_k8s", "K8sRunLauncher"),
}
# The releases whose internals _instance_and_launcher was checked against.
CHECKED_WITH = {"dagster": "1.13.27", "dagster-docker": "0.29.27", "dagster-k8s": "0.29.27"}


def _instance_and_launcher(path: Path) -> tuple[dict[str, Any], Any]:
    """The instance configuration in ``path`` as Dagster reads it, and the run launcher built from it
    as the instance builds it; DagsterInvalidConfigError (or the launcher's own error) when refused.

    Dagster has no public function that checks an instance file without building the instance, which
    connects to its storage, nor one that builds a run launcher alone. So this calls what the instance
    calls when it loads: dagster_instance_config (the instance schema) and ConfigurableClassData's
    rehydrate (the launcher's config_type() schema, then its from_config_value constructor). The
    K8sRunLauncher's constructor also loads the cluster's credentials, which are not needed to judge
    the configuration, so that one call is replaced. test_internals_checked_with_these_releases fails
    when another Dagster is installed: check these calls again then.
    """
    from dagster._core.instance.config import dagster_instance_config
    from dagster._serdes import ConfigurableClassData

    config, _ = dagster_instance_config(str(path.parent), path.name)
    launcher = config["run_launcher"]
    data = ConfigurableClassData(launcher["module"], launcher["class"], yaml.safe_dump(launcher["config"]))
    with mock.patch("dagster_k8s.launcher.load_kubernetes_config"):
        return dict(config), data.rehydrate()


def _load(name: str) -> dict[str, Any]:
    return yaml.safe_load((REPO / name).read_text())


def _write(tmp_path: Path, config: dict[str, Any]) -> Path:
    path = tmp_path / "dagster.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _contains(outer: Any, inner: Any) -> bool:
    """Every key of ``inner`` is in ``outer`` with a value that contains it in turn."""
    if isinstance(inner, dict):
        return isinstance(outer, dict) and all(
            k in outer and _contains(outer[k], v) for k, v in inner.items()
        )
    return bool(outer == inner)


def test_internals_checked_with_these_releases() -> None:
    installed = {name: importlib.metadata.version(name) for name in CHECKED_WITH}
    assert installed == CHECKED_WITH, (
        f"{installed} is installed, but _instance_and_launcher uses Dagster internals checked with "
        f"{CHECKED_WITH}: check that it still validates (and refuses) what it did, then update CHECKED_WITH"
    )


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_variant_is_accepted_by_dagster_and_its_launcher(name: str) -> None:
    module, class_name = VARIANTS[name]
    config, launcher = _instance_and_launcher(REPO / "deploy" / name)
    assert type(launcher) is getattr(importlib.import_module(module), class_name)
    assert config["storage"]["custom"]["config"]["postgres_url"] == {"env": "DAGSTER_PG_URL"}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_variant_keeps_every_setting_of_the_project_instance(name: str) -> None:
    project, variant = _load("dagster.yaml"), _load(f"deploy/{name}")
    assert "run_launcher" not in project
    assert set(variant) == {*project, "run_launcher"}
    for key, value in project.items():
        assert _contains(variant[key], value), f"{name} changes `{key}` of dagster.yaml"
    # What keeps the API within bounds however many run workers there are.
    assert (
        variant["concurrency"]["pools"]["default_limit"] == project["concurrency"]["pools"]["default_limit"]
    )


def test_docker_run_containers_get_every_setting_the_pipeline_reads() -> None:
    # A run container builds the definitions again: with another ENTSOE_AREAS than the code server's
    # it would not find the run's assets, with another ENTSOE_DATABASE_URL it would write elsewhere.
    read = {
        name
        for path in (REPO / "entsoe_pipeline").rglob("*.py")
        if "simulator" not in path.parts
        for name in re.findall(r'"(ENTSOE_[A-Z_]+)"', path.read_text())
    }
    passed_on = set(_load("deploy/dagster-docker.yaml")["run_launcher"]["config"]["env_vars"])
    assert passed_on == read | {"DAGSTER_PG_URL"}


def _launcher_config(config: dict[str, Any]) -> dict[str, Any]:
    launcher: dict[str, Any] = config["run_launcher"]["config"]
    return launcher


@pytest.mark.parametrize(
    ("name", "break_it", "named"),
    [
        ("dagster-docker.yaml", lambda c: _launcher_config(c).update(netwrok="entsoe"), "netwrok"),
        ("dagster-docker.yaml", lambda c: _launcher_config(c).update(env_vars="X"), "env_vars"),
        ("dagster-k8s.yaml", lambda c: _launcher_config(c).pop("instance_config_map"), "instance_config_map"),
        ("dagster-k8s.yaml", lambda c: _launcher_config(c).update(resources="1Gi"), "resources"),
        ("dagster-k8s.yaml", lambda c: c["concurrency"]["pools"].update(default_limit="two"), "two"),
        ("dagster-k8s.yaml", lambda c: c.update(run_queue={"dequeue_every": 2}), "dequeue_every"),
    ],
    ids=[
        "docker-misspelled-key",
        "docker-env-vars-not-a-list",
        "k8s-no-instance-config-map",
        "k8s-resources-not-a-mapping",
        "pool-limit-not-a-number",
        "unknown-run-queue-key",
    ],
)
def test_the_validation_refuses_a_broken_variant(
    tmp_path: Path, name: str, break_it: Any, named: str
) -> None:
    config = _load(f"deploy/{name}")
    break_it(config)
    with pytest.raises(Exception, match=named):
        _instance_and_launcher(_write(tmp_path, config))


def test_the_docker_launcher_itself_refuses_what_its_schema_lets_through(tmp_path: Path) -> None:
    # Both `network` and `networks` pass the schema; only the launcher's constructor refuses them.
    config = _load("deploy/dagster-docker.yaml")
    config["run_launcher"]["config"]["networks"] = ["entsoe", "other"]
    with pytest.raises(Exception, match="cannot set both `network` and `networks`"):
        _instance_and_launcher(_write(tmp_path, config))
