"""deploy/k8s/, rendered offline (tests/kustomize.py) and validated against Kubernetes' own
schemas (kubernetes-validate, strict: no unknown fields), plus what DESIGN.md §5 asks of it."""

import re

import kubernetes_validate
import pytest
import yaml

from tests.kustomize import containers, find, pod_spec, render
from tests.stack import REPO_DIR

K8S_DIR = REPO_DIR / "deploy" / "k8s"
KUBERNETES_VERSION = "1.31"
BASE = render(K8S_DIR / "base")
LOCAL = render(K8S_DIR / "overlays" / "local")
COMPOSE = yaml.safe_load((REPO_DIR / "docker-compose.yml").read_text())["services"]
# Deployment -> the compose service whose process script it runs.
PROCESSES = {
    "r4c-web": "backend",
    "r4c-worker": "worker",
    "r4c-mailing-worker": "mailing-worker",
    "r4c-beat": "beat",
    "r4c-flower": "flower",
}


def name_of(obj: dict) -> str:
    return f"{obj['kind']}/{obj['metadata']['name']}"


@pytest.mark.parametrize("obj", BASE + LOCAL, ids=lambda obj: name_of(obj))
def test_every_manifest_is_valid_for_kubernetes(obj):
    kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_every_file_of_deploy_k8s_is_part_of_a_kustomization():
    rendered_files = set()
    for kustomization in K8S_DIR.rglob("kustomization.yaml"):
        spec = yaml.safe_load(kustomization.read_text())
        entries = [*spec.get("resources", []), *(patch["path"] for patch in spec.get("patches", []))]
        rendered_files |= {(kustomization.parent / entry).resolve() for entry in entries}
    manifests = {path.resolve() for path in K8S_DIR.rglob("*.yaml") if path.name != "kustomization.yaml"}
    assert manifests - rendered_files == set()


def test_the_processes_of_the_design_run_their_compose_scripts():
    for deployment, service in PROCESSES.items():
        obj = find(BASE, "Deployment", deployment)
        assert obj is not None, deployment
        main = pod_spec(obj)["containers"][0]
        assert main["command"] == COMPOSE[service]["command"], deployment
    release = find(BASE, "Job", "r4c-release")
    assert pod_spec(release)["containers"][0]["command"] == COMPOSE["release"]["command"]
    nginx = find(BASE, "Deployment", "r4c-nginx")
    assert pod_spec(nginx)["containers"][0]["image"] == "r4c-nginx"


def test_beat_is_one_replica_replaced_by_recreate():
    for objects in (BASE, LOCAL):
        beat = find(objects, "Deployment", "r4c-beat")
        assert beat["spec"]["replicas"] == 1
        assert beat["spec"]["strategy"] == {"type": "Recreate"}


def test_the_web_is_probed_on_health_live_and_ready_and_kept_by_a_disruption_budget():
    web = pod_spec(find(BASE, "Deployment", "r4c-web"))["containers"][0]
    assert web["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert web["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    # The probes name a host that ALLOWED_HOSTS accepts (else Django answers 400).
    allowed = find(BASE, "ConfigMap", "r4c-config")["data"]["ALLOWED_HOSTS"].split(",")
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert {"name": "Host", "value": "localhost"} in web[probe]["httpGet"]["httpHeaders"]
    assert "localhost" in allowed
    pdb = find(BASE, "PodDisruptionBudget", "r4c-web")
    assert (
        pdb["spec"]["selector"]["matchLabels"] == find(BASE, "Deployment", "r4c-web")["spec"]["selector"]["matchLabels"]
    )
    assert pdb["spec"]["minAvailable"] >= 1


def test_every_long_running_container_has_probes_and_every_container_resources():
    for obj in BASE + LOCAL:
        for container in containers(obj):
            resources = container.get("resources", {})
            assert resources.get("requests", {}).get("cpu"), (name_of(obj), container["name"])
            assert resources.get("limits", {}).get("memory"), (name_of(obj), container["name"])
        if obj["kind"] in ("Deployment", "StatefulSet"):
            for container in pod_spec(obj)["containers"]:
                assert "livenessProbe" in container or "readinessProbe" in container, name_of(obj)


def test_app_containers_run_as_the_images_user_without_privileges():
    for obj in BASE:
        if obj["metadata"]["name"] == "r4c-nginx" or pod_spec(obj) is None:
            continue
        spec = pod_spec(obj)
        assert spec["securityContext"]["runAsNonRoot"] is True, name_of(obj)
        assert spec["automountServiceAccountToken"] is False, name_of(obj)
        for container in containers(obj):
            assert container["securityContext"]["allowPrivilegeEscalation"] is False, name_of(obj)
            assert container["securityContext"]["readOnlyRootFilesystem"] is True, name_of(obj)


def test_settings_are_a_configmap_and_a_secret_named_after_env_example():
    documented = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", (REPO_DIR / ".env.example").read_text(), re.MULTILINE))
    config = find(LOCAL, "ConfigMap", "r4c-config")
    secret = find(LOCAL, "Secret", "r4c-secrets")
    assert set(config["data"]) <= documented
    assert set(secret["stringData"]) <= documented
    # What must stay secret is never in the ConfigMap.
    secret_names = {
        "SECRET_KEY",
        "DATABASE_URL",
        "CELERY_BROKER_URL",
        "CACHE_URL",
        "EMAIL_HOST_PASSWORD",
        "GATEWAY_TOKEN",
    }
    assert secret_names <= set(secret["stringData"])
    assert not secret_names & set(find(BASE, "ConfigMap", "r4c-config")["data"])
    assert find(BASE, "Secret", "r4c-secrets") is None  # each overlay brings its own


def test_everything_the_local_overlay_refers_to_exists():
    names = {(obj["kind"], obj["metadata"]["name"]) for obj in LOCAL}
    for obj in LOCAL:
        spec = pod_spec(obj)
        if spec is None:
            continue
        for container in containers(obj):
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    assert ("ConfigMap", source["configMapRef"]["name"]) in names, name_of(obj)
                if "secretRef" in source:
                    assert ("Secret", source["secretRef"]["name"]) in names, name_of(obj)
            for variable in container.get("env", []):
                ref = variable.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    secret = find(LOCAL, "Secret", ref["name"])
                    assert secret is not None and ref["key"] in secret["stringData"], name_of(obj)
        for volume in spec.get("volumes", []):
            if "persistentVolumeClaim" in volume:
                assert ("PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"]) in names
        assert obj["metadata"]["namespace"] == "r4c-local"
    for service in (obj for obj in LOCAL if obj["kind"] == "Service"):
        selected = [
            obj
            for obj in LOCAL
            if pod_spec(obj) is not None
            and service["spec"]["selector"].items() <= obj["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert selected, name_of(service)


def test_the_local_overlay_uses_the_images_compose_builds_and_one_replica_each():
    images = {container["image"] for obj in LOCAL for container in containers(obj)}
    assert {"r4c-backend:latest", "r4c-nginx:latest"} <= images
    assert COMPOSE["backend"]["image"] == "r4c-backend:latest"
    assert COMPOSE["nginx"]["image"] == "r4c-nginx:latest"
    for deployment in PROCESSES:
        assert find(LOCAL, "Deployment", deployment)["spec"]["replicas"] == 1
    assert find(LOCAL, "ConfigMap", "r4c-config")["data"]["ENVIRONMENT"] == "development"
    assert find(BASE, "ConfigMap", "r4c-config")["data"]["ENVIRONMENT"] == "production"


def test_flower_is_never_exposed_outside_the_cluster():
    flower_service = find(BASE, "Service", "r4c-flower")
    assert flower_service["spec"]["type"] == "ClusterIP"
    assert not [obj for obj in BASE + LOCAL if obj["kind"] == "Ingress"]
    exposed = [
        obj for obj in BASE + LOCAL if obj["kind"] == "Service" and obj["spec"].get("type", "ClusterIP") != "ClusterIP"
    ]
    assert exposed == []
