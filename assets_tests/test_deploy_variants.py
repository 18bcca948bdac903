"""The scale-out variants under deploy/ (postgres, k8s, celery), each loaded the way Dagster loads it and validated
without a cluster or a broker; the executor switch (AI_PLATFORM_EXECUTOR=k8s | celery); the dbt target switch.

Each variant is copied into a DAGSTER_HOME of its own and loaded with `DagsterInstance.get()`, against a real
PostgreSQL server (fixture `postgres_server`). What can be built without the service is built for real:
- k8s: the K8sRunLauncher the instance configures (its in-cluster login simulated: the service-account token and
  CA files a pod would have, and KUBERNETES_SERVICE_HOST/PORT pointing at 127.0.0.1, where nothing listens), and
  the Kubernetes Job it would submit for a run, built by dagster-k8s' own code up to the API call;
- celery: the worker configuration `dagster-celery worker start -y deploy/celery/worker.yaml` writes, with its
  own code;
- executors: the definitions imported in a subprocess with AI_PLATFORM_EXECUTOR unset, =k8s and =celery, each
  job's executor and run config validated by Dagster;
- dbt: `dbt parse` through the platform's DbtCliResource with AI_PLATFORM_DBT_TARGET=motherduck (parsing
  needs no connection, so no MotherDuck account).
Not validated here: talking to a Kubernetes API, a broker, Celery workers, or MotherDuck.
"""

import contextlib
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import kubernetes
import pytest
import yaml
from dagster._core.instance.config import dagster_instance_config
from dagster._core.launcher import DefaultRunLauncher
from dagster_celery.cli import get_config_dir, get_validated_config
from dagster_k8s import K8sRunLauncher
from dagster_k8s.job import construct_dagster_k8s_job, get_job_name_from_run_id
from dagster_postgres import PostgresRunStorage
from kubernetes.config import incluster_config

from ai_platform import settings
from ai_platform.features.dbt_cli import dbt_cli
from ai_platform.features.project import dbt_project

DEPLOY = settings.REPO_ROOT / "deploy"
VARIANTS = ("postgres", "k8s", "celery")
# The sections a variant adds to deploy/postgres/dagster.yaml (storage, pools, queue, sensors, telemetry).
OWN_SECTIONS = {"postgres": set(), "k8s": {"run_launcher", "run_monitoring"}, "celery": set()}

K8S_ENV = {
    "DAGSTER_K8S_JOB_IMAGE": "registry.example.com/ai-platform:test",
    "DAGSTER_K8S_NAMESPACE": "ai-platform-test",
    "DAGSTER_K8S_SERVICE_ACCOUNT": "ai-platform-runner",
    "DAGSTER_K8S_INSTANCE_CONFIG_MAP": "dagster-instance",
    "DAGSTER_K8S_PG_PASSWORD_SECRET": "dagster-postgresql",
}
CELERY_ENV = {
    "AI_PLATFORM_CELERY_BROKER_URL": "pyamqp://ai:broker-secret@broker.example.com:5672//",
    "AI_PLATFORM_CELERY_BACKEND_URL": "rpc://",
}
MOTHERDUCK_DATABASE = "scaleout_check"

# Imports the code location as a code server would, once per AI_PLATFORM_EXECUTOR value (the executor is read when
# it loads), and reports each job's executor and what Dagster makes of run config for it. One process for all:
# importing the definitions costs seconds; reloading the module that composes them does not.
PROBE = r"""
import importlib, json, os, sys
import dagster as dg

SCALE_OUT = ("dagster_k8s", "dagster_celery", "kubernetes", "celery")
out = {}


def run_config_error(job, run_config):
    try:
        dg.validate_run_config(job, run_config)
    except dg.DagsterInvalidConfigError as e:
        return str(e)
    return None


def load(executor):
    os.environ.pop("AI_PLATFORM_EXECUTOR", None)
    if executor:
        os.environ["AI_PLATFORM_EXECUTOR"] = executor
    if "ai_platform.definitions" in sys.modules:
        return importlib.reload(sys.modules["ai_platform.definitions"])
    return importlib.import_module("ai_platform.definitions")


d = load(None)
jobs = d.defs.resolve_all_job_defs()
out["default"] = {
    "executors": sorted({j.executor_def.name for j in jobs}),
    "imported": [m for m in SCALE_OUT if m in sys.modules],
    "dbt_resource": {k: str(v) for k, v in d.defs.resources["dbt"].__dict__.items() if k in ("target", "profile")},
}

d = load("k8s")
jobs = d.defs.resolve_all_job_defs()
step_config = {"job_namespace": "ai-platform-steps", "max_concurrent": 2,
               "step_k8s_config": {"container_config": {"resources": {"requests": {"cpu": "1"}}}}}
out["k8s"] = {
    "jobs": sorted(j.name for j in jobs),
    "executors": sorted({j.executor_def.name for j in jobs}),
    "errors": [e for j in jobs if (e := run_config_error(j, {"execution": {"config": step_config}}))],
    "bad_config_error": run_config_error(jobs[0], {"execution": {"config": {"max_concurrent": "two"}}}),
    "executor_module": jobs[0].executor_def.executor_creation_fn.__module__,
}

d = load("celery")
jobs = d.defs.resolve_all_job_defs()
out["celery"] = {
    "executors": sorted({j.executor_def.name for j in jobs}),
    "execution": [next(iter(dg.validate_run_config(j, {})["execution"].values())) for j in jobs],
}
broker = os.environ.pop("AI_PLATFORM_CELERY_BROKER_URL")
out["celery"]["missing_broker_error"] = run_config_error(jobs[0], {})
os.environ["AI_PLATFORM_CELERY_BROKER_URL"] = broker

d = load("multiprocess")
out["multiprocess"] = {"executors": sorted({j.executor_def.name for j in d.defs.resolve_all_job_defs()})}

# The dbt profile as dbt (and dagster-dbt's adapter lookup) loads it: the output comes from the environment.
from argparse import Namespace
from dbt.config.runtime import load_profile
from dbt.flags import set_from_args
from dbt_common.context import set_invocation_context
from ai_platform.features.project import dbt_project

out["dbt"] = {}
set_from_args(Namespace(profiles_dir=str(dbt_project.profiles_dir)), None)
for target in (None, "motherduck", "nowhere"):
    os.environ.pop("AI_PLATFORM_DBT_TARGET", None)
    if target:
        os.environ["AI_PLATFORM_DBT_TARGET"] = target
    set_invocation_context(os.environ.copy())
    try:
        profile = load_profile(str(dbt_project.project_dir), {})
    except Exception as e:
        out["dbt"][str(target)] = {"error": str(e)}
    else:
        creds = profile.credentials
        out["dbt"][str(target)] = {"target": profile.target_name, "path": creds.path, "threads": profile.threads,
                                   "database": creds.database, "motherduck": creds.is_motherduck}
print("PROBE" + json.dumps(out))
"""


@pytest.fixture(scope="module")
def probe() -> Iterator[subprocess.Popen]:
    """The definitions probe, started at once so that it runs while the other tests do; read with `probe_result`."""
    own = {settings.EXECUTOR_ENV, "AI_PLATFORM_DBT_TARGET", "AI_PLATFORM_MOTHERDUCK_DATABASE"}
    env = {k: v for k, v in os.environ.items() if k not in own} | CELERY_ENV
    env["PYTHONWARNINGS"] = "ignore"
    with subprocess.Popen(
        [sys.executable, "-c", PROBE], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        yield proc
        if proc.poll() is None:
            proc.kill()


@pytest.fixture(scope="module")
def probe_result(probe) -> dict:
    stdout, stderr = probe.communicate(timeout=180)
    assert probe.returncode == 0, stderr[-4000:]
    (line,) = [line for line in stdout.splitlines() if line.startswith("PROBE")]
    return json.loads(line.removeprefix("PROBE"))


@pytest.fixture(scope="module")
def motherduck_parse(tmp_path_factory) -> Iterator:
    """`dbt parse` through the platform's dbt resource with the MotherDuck output selected by the environment only
    (no --target), into a target folder of its own; started at once, waited for by the test."""
    target = tmp_path_factory.mktemp("dbt_motherduck")
    env = {"AI_PLATFORM_DBT_TARGET": "motherduck", "AI_PLATFORM_MOTHERDUCK_DATABASE": MOTHERDUCK_DATABASE}
    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            mp.setenv(name, value)
        mp.delenv("MOTHERDUCK_TOKEN", raising=False)
        mp.delenv("motherduck_token", raising=False)
        # The same arguments as the platform's resource (features/assets.py): no profile, no target.
        invocation = dbt_cli().cli(
            ["parse", "--quiet"], target_path=target
        )  # the dbt process is started here, with this environment
    yield invocation, target
    if invocation.process.poll() is None:  # its test was not selected
        invocation.process.kill()
        invocation.process.wait()


@pytest.fixture(scope="module")
def database(postgres_server, probe, motherduck_parse):
    """One empty database for the module's instances (the subprocesses above are already running)."""
    return postgres_server.create_database(f"deploy_{uuid.uuid4().hex[:12]}")


@pytest.fixture
def in_cluster(tmp_path, monkeypatch) -> str:
    """What a pod has for `load_incluster_config`: the service host/port and the service account's token and CA
    files. The API address is 127.0.0.1 on a port where nothing listens: nothing here may reach a cluster."""
    token, ca = tmp_path / "token", tmp_path / "ca.crt"
    token.write_text("not-a-real-token")
    ca.write_text("-----BEGIN CERTIFICATE-----\nnot-a-real-cert\n-----END CERTIFICATE-----\n")
    monkeypatch.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", str(token))
    monkeypatch.setattr(incluster_config, "SERVICE_CERT_FILENAME", str(ca))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "9")
    return "https://127.0.0.1:9"


def make_home(variant: str, tmp_path: Path, monkeypatch, database, text: str | None = None) -> Path:
    """A DAGSTER_HOME holding a copy of the variant (or `text`), and every variable the variants read."""
    home = tmp_path / f"dagster_home_{variant}"
    home.mkdir(parents=True)
    if text is None:
        shutil.copy(DEPLOY / variant / "dagster.yaml", home / "dagster.yaml")
    else:
        (home / "dagster.yaml").write_text(text)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    for name, value in {**database.env(), **K8S_ENV, **CELERY_ENV}.items():
        monkeypatch.setenv(name, value)
    return home


@contextlib.contextmanager
def loaded(variant: str, tmp_path: Path, monkeypatch, database, text: str | None = None):
    make_home(variant, tmp_path, monkeypatch, database, text)
    with dg.DagsterInstance.get() as instance:
        yield instance


def variant_config(variant: str) -> dict:
    return yaml.safe_load((DEPLOY / variant / "dagster.yaml").read_text())


def env_names(value) -> set[str]:
    """Every `env:` reference in a config tree."""
    if isinstance(value, dict):
        if set(value) == {"env"}:
            return {value["env"]}
        return set().union(*(env_names(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(env_names(v) for v in value))
    return set()


def test_every_variant_under_deploy_is_covered():
    assert sorted(p.parent.name for p in DEPLOY.glob("*/dagster.yaml")) == sorted(VARIANTS)


@pytest.mark.parametrize("variant", VARIANTS)
def test_each_variant_keeps_the_repository_settings_and_adds_only_its_own(variant):
    config = variant_config(variant)
    assert set(config) >= OWN_SECTIONS[variant]
    own = OWN_SECTIONS[variant]
    common = {k: v for k, v in config.items() if k not in own}
    # Same storage (DAGSTER_PG_*) as the postgres variant, and the repository's dagster.yaml for everything else
    # (k8s has its own run monitoring: a pod's start and loss are watched by its launcher).
    assert common == {k: v for k, v in variant_config("postgres").items() if k not in own}
    common.pop("storage")
    repository = yaml.safe_load((settings.REPO_ROOT / "dagster.yaml").read_text())
    assert common == {k: v for k, v in repository.items() if k not in own}


@pytest.mark.parametrize("variant", VARIANTS)
def test_each_variant_validates_and_loads_with_postgres_storage_pools_queue_and_sensors(
    variant, tmp_path, monkeypatch, database
):
    home = make_home(variant, tmp_path, monkeypatch, database)
    # The schema check DagsterInstance.get() runs, on its own: it raises on any key or value the schema refuses.
    validated, instance_class = dagster_instance_config(str(home))
    assert instance_class is None and validated["storage"]["postgres"]
    with dg.DagsterInstance.get() as instance:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert instance.run_storage.postgres_url.endswith(f"@127.0.0.1:{database.port}/{database.db_name}")
        assert isinstance(instance.run_coordinator, dg.QueuedRunCoordinator)
        assert instance.run_coordinator.dequeue_interval_seconds == 1
        concurrency = instance.get_concurrency_config()
        assert concurrency.run_queue_config.max_concurrent_runs == 4
        assert concurrency.pool_config.default_pool_limit == 1
        assert instance.get_settings("sensors") == {"use_threads": True, "num_workers": 4}
        assert instance.get_settings("telemetry") == {"enabled": False}
        if variant != "k8s":  # (the K8sRunLauncher needs a cluster login: see the k8s tests)
            # Runs start on the daemon's machine; with celery, only their steps move to the workers.
            assert type(instance.run_launcher) is DefaultRunLauncher
    assert not list(home.rglob("*.db"))  # nothing fell back to SQLite


@pytest.fixture
def k8s_instance(in_cluster, tmp_path, monkeypatch, database) -> Iterator[dg.DagsterInstance]:
    with loaded("k8s", tmp_path, monkeypatch, database) as instance:
        yield instance


def test_k8s_the_run_launcher_is_built_from_the_environment_and_logs_in_from_the_pod(k8s_instance, in_cluster):
    launcher = k8s_instance.run_launcher
    assert isinstance(launcher, K8sRunLauncher)
    assert launcher.job_image == K8S_ENV["DAGSTER_K8S_JOB_IMAGE"]
    assert launcher.job_namespace == K8S_ENV["DAGSTER_K8S_NAMESPACE"]
    assert launcher.service_account_name == K8S_ENV["DAGSTER_K8S_SERVICE_ACCOUNT"]
    assert launcher.instance_config_map == K8S_ENV["DAGSTER_K8S_INSTANCE_CONFIG_MAP"]
    assert launcher.postgres_password_secret == K8S_ENV["DAGSTER_K8S_PG_PASSWORD_SECRET"]
    assert launcher.load_incluster_config is True and launcher.kubeconfig_file is None
    # The Kubernetes client was configured from the pod's service account (where the API would be).
    assert kubernetes.client.Configuration.get_default_copy().host == in_cluster
    assert k8s_instance.run_monitoring_enabled
    assert k8s_instance.run_monitoring_start_timeout_seconds == 300


def test_k8s_the_run_worker_job_carries_what_the_run_pod_needs(k8s_instance, database):
    """The Job the launcher would submit for a run, built by dagster-k8s' own code (launch_run minus the API call)."""
    launcher = k8s_instance.run_launcher
    run = dg.DagsterRun(job_name="daily_ingest_and_features", run_id=str(uuid.uuid4()))
    context = launcher.get_container_context_for_run(run)
    job = construct_dagster_k8s_job(
        job_config=context.get_k8s_job_config(job_image=None, run_launcher=launcher),
        args=["dagster", "api", "execute_run", "{}"],
        job_name=get_job_name_from_run_id(run.run_id),
        component="run_worker",
        user_defined_k8s_config=context.run_k8s_config,
    )
    manifest = kubernetes.client.ApiClient().sanitize_for_serialization(job)
    assert context.namespace == K8S_ENV["DAGSTER_K8S_NAMESPACE"]
    pod = manifest["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == K8S_ENV["DAGSTER_K8S_JOB_IMAGE"]
    assert pod["serviceAccountName"] == K8S_ENV["DAGSTER_K8S_SERVICE_ACCOUNT"]
    env = {e["name"]: e for e in container["env"]}
    assert env["DAGSTER_PG_HOST"]["value"] == database.host
    assert env["DAGSTER_PG_DB"]["value"] == database.db_name
    assert env["DAGSTER_PG_PASSWORD"]["valueFrom"] == {
        "secretKeyRef": {"name": K8S_ENV["DAGSTER_K8S_PG_PASSWORD_SECRET"], "key": "postgresql-password"}
    }
    assert database.password not in json.dumps(manifest)  # never inline in the Job spec
    # The run pod gets the instance as an argument, its `env:` references unresolved: every variable the variant
    # reads must reach the pod (the password through the Secret).
    ref_config = yaml.safe_load(k8s_instance.get_ref().run_launcher_data.config_yaml)
    assert ref_config["job_image"] == {"env": "DAGSTER_K8S_JOB_IMAGE"}
    assert env_names(variant_config("k8s")) <= env.keys()
    # AI_PLATFORM_* / AWS_* settings and credentials come whole from a ConfigMap and a Secret.
    assert container["envFrom"] == [
        {"configMapRef": {"name": "ai-platform-env"}},
        {"secretRef": {"name": "ai-platform-secrets"}},
    ]
    # The shared data volume (lake, warehouse, models): every run and step pod sees the same files.
    assert pod["volumes"] == [{"name": "ai-platform-data", "persistentVolumeClaim": {"claimName": "ai-platform-data"}}]
    assert container["volumeMounts"] == [{"name": "ai-platform-data", "mountPath": "/data"}]


def test_k8s_a_missing_variable_or_a_misspelt_launcher_field_fails_loading(in_cluster, tmp_path, monkeypatch, database):
    with loaded("k8s", tmp_path / "a", monkeypatch, database) as instance:
        monkeypatch.delenv("DAGSTER_K8S_JOB_IMAGE")
        with pytest.raises(dg.DagsterInvalidConfigError, match="DAGSTER_K8S_JOB_IMAGE"):
            instance.run_launcher  # noqa: B018 (built on first use)
    text = (DEPLOY / "k8s" / "dagster.yaml").read_text().replace("job_namespace:", "job_namespce:")
    with loaded("k8s", tmp_path / "b", monkeypatch, database, text) as instance:
        with pytest.raises(dg.DagsterInvalidConfigError, match="job_namespce"):
            instance.run_launcher  # noqa: B018


def test_k8s_executor_selected_by_the_environment_validates_step_config(probe_result):
    k8s = probe_result["k8s"]
    assert k8s["executors"] == ["k8s"]
    assert "daily_ingest_and_features" in k8s["jobs"] and "landing_refresh" in k8s["jobs"]
    assert k8s["executor_module"] == "dagster_k8s.executor"
    assert k8s["errors"] == []  # namespace, concurrency and per-step resources accepted by every job
    assert "max_concurrent" in k8s["bad_config_error"]  # and the k8s executor's schema is what checked them


def test_the_default_executor_is_in_process_and_imports_neither_kubernetes_nor_celery(probe_result):
    assert probe_result["default"]["executors"] == ["in_process"]
    assert probe_result["default"]["imported"] == []
    assert probe_result["multiprocess"]["executors"] == ["multiprocess"]


def test_celery_executor_takes_broker_and_backend_from_the_environment_when_a_run_starts(probe_result):
    celery = probe_result["celery"]
    assert celery["executors"] == ["celery"]
    for execution in celery["execution"]:
        assert execution["broker"] == CELERY_ENV["AI_PLATFORM_CELERY_BROKER_URL"]
        assert execution["backend"] == CELERY_ENV["AI_PLATFORM_CELERY_BACKEND_URL"]
    assert "AI_PLATFORM_CELERY_BROKER_URL" in celery["missing_broker_error"]


def test_celery_workers_started_with_worker_yaml_listen_where_runs_send_steps(tmp_path, monkeypatch, database):
    worker_yaml = DEPLOY / "celery" / "worker.yaml"
    with loaded("celery", tmp_path, monkeypatch, database) as instance:
        assert get_validated_config(str(worker_yaml))["broker"] == CELERY_ENV["AI_PLATFORM_CELERY_BROKER_URL"]
        # What `dagster-celery worker start -y deploy/celery/worker.yaml` writes for `celery worker` to import.
        config_dir = Path(get_config_dir(str(worker_yaml)))
        assert config_dir.is_relative_to(instance.root_directory)
    written: dict = {}
    exec((config_dir / "dagster_celery_config.py").read_text(), written)
    assert written["broker_url"] == CELERY_ENV["AI_PLATFORM_CELERY_BROKER_URL"]
    assert written["result_backend"] == CELERY_ENV["AI_PLATFORM_CELERY_BACKEND_URL"]
    # The same variables as the executor's (definitions.py): what the probe resolved from them is what workers use.
    assert env_names(yaml.safe_load(worker_yaml.read_text())) == set(CELERY_ENV)


def test_dbt_target_defaults_to_the_local_duckdb_file_and_dagster_passes_none(probe_result):
    # dagster-dbt adds --target only when the resource names one: the profile's env-driven default decides.
    assert probe_result["default"]["dbt_resource"] == {"target": "None", "profile": "None"}
    assert dbt_project.target is None
    profile = yaml.safe_load((settings.dbt_project_dir() / "profiles.yml").read_text())["flights"]
    assert profile["target"] == "{{ env_var('AI_PLATFORM_DBT_TARGET', 'local') }}"
    local, motherduck = profile["outputs"]["local"], profile["outputs"]["motherduck"]
    assert local["path"].endswith("/warehouse/flights.duckdb") and local["threads"] == 1
    assert local["keep_open"] is True and motherduck["keep_open"] is False
    assert motherduck["type"] == local["type"] == "duckdb"  # the same adapter: the same SQL
    assert (
        "token" not in json.dumps(motherduck).lower()
    )  # MotherDuck reads MOTHERDUCK_TOKEN; `dbt debug` prints settings


def test_dbt_parses_the_project_for_motherduck_selected_by_the_environment(motherduck_parse):
    invocation, target = motherduck_parse
    invocation.wait()  # raises with dbt's errors if the parse failed
    manifest = json.loads((target / "manifest.json").read_text())
    models = [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]
    assert {"stg_flights", "stg_weather", "stg_planes", "flight_features"} <= {m["name"] for m in models}
    # Every relation is in the MotherDuck database: the environment chose the output, no --target was passed.
    assert {n["database"] for n in [*manifest["nodes"].values(), *manifest["sources"].values()]} == {
        MOTHERDUCK_DATABASE
    }
    assert manifest["metadata"]["adapter_type"] == "duckdb"


def test_dbt_profile_loaded_as_dbt_loads_it_switches_output_by_the_environment(probe_result):
    dbt = probe_result["dbt"]
    local, motherduck = dbt["None"], dbt["motherduck"]
    assert local["target"] == "local" and not local["motherduck"] and local["threads"] == 1
    assert local["path"].endswith("/warehouse/flights.duckdb")
    # Same catalog name by default (`flights`), so relation names match the local file's.
    assert motherduck == {
        "target": "motherduck",
        "path": "md:flights",
        "threads": 4,
        "database": "flights",
        "motherduck": True,
    }
    assert "nowhere" in dbt["nowhere"]["error"]  # an unknown name is refused, not silently local
