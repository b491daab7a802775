"""A small kustomize for the tests: renders deploy/k8s/ without kubectl or a network.

It knows the part of kustomize the manifests use — `resources` (files and directories),
`namespace`, `images`, `replicas` and strategic-merge `patches` given by path — and refuses
any other key, so a manifest that starts using more fails the tests instead of being
rendered wrong.
"""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

SUPPORTED_KEYS = {"apiVersion", "kind", "resources", "namespace", "images", "replicas", "patches"}
CLUSTER_SCOPED_KINDS = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume", "StorageClass"}
# Lists whose items are merged by this key in a strategic-merge patch (containers, env, ...).
MERGE_KEYS = ("name", "containerPort", "mountPath")


class KustomizeError(Exception):
    """The kustomization uses something this renderer does not know, or points at nothing."""


def load_documents(path: Path) -> list[dict]:
    return [document for document in yaml.safe_load_all(path.read_text()) if document]


def render(directory: Path) -> list[dict]:
    """The objects `kustomize build directory` would print (for the features above)."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(kustomization) - SUPPORTED_KEYS
    if unknown:
        raise KustomizeError(f"{directory}: unsupported kustomization keys {sorted(unknown)}")
    objects: list[dict] = []
    for entry in kustomization.get("resources", []):
        path = (directory / entry).resolve()
        if path.is_dir():
            objects.extend(render(path))
        elif path.is_file():
            objects.extend(load_documents(path))
        else:
            raise KustomizeError(f"{directory}: resource {entry} does not exist")
    for patch in kustomization.get("patches", []):
        if set(patch) != {"path"}:
            raise KustomizeError(f"{directory}: only patches given by path are supported: {patch}")
        for document in load_documents(directory / patch["path"]):
            target = find(objects, document["kind"], document["metadata"]["name"])
            if target is None:
                raise KustomizeError(f"{directory}: patch {patch['path']} matches no object")
            merge(target, {key: value for key, value in document.items() if key not in ("apiVersion", "kind")})
    for replica in kustomization.get("replicas", []):
        target = next(
            (o for o in objects if o["metadata"]["name"] == replica["name"] and "replicas" in o["spec"]), None
        )
        if target is None:
            raise KustomizeError(f"{directory}: replicas for {replica['name']}, which has none")
        target["spec"]["replicas"] = replica["count"]
    for image in kustomization.get("images", []):
        if not set_image(objects, image):
            raise KustomizeError(f"{directory}: image {image['name']} is used by no container")
    if "namespace" in kustomization:
        for obj in objects:
            if obj["kind"] not in CLUSTER_SCOPED_KINDS:
                obj["metadata"]["namespace"] = kustomization["namespace"]
    return objects


def find(objects: list[dict], kind: str, name: str) -> dict | None:
    return next((o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name), None)


def merge(target: dict, patch: dict) -> None:
    """Strategic merge, as far as these manifests need it: maps merge, named lists merge by name."""
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            merge(target[key], value)
        elif isinstance(value, list) and isinstance(target.get(key), list) and _merge_key(value):
            merge_key = _merge_key(value)
            for item in value:
                existing = next((i for i in target[key] if i.get(merge_key) == item[merge_key]), None)
                if existing is None:
                    target[key].append(copy.deepcopy(item))
                else:
                    merge(existing, item)
        else:
            target[key] = copy.deepcopy(value)


def _merge_key(items: list) -> str | None:
    for key in MERGE_KEYS:
        if items and all(isinstance(item, dict) and key in item for item in items):
            return key
    return None


def containers(obj: dict) -> list[dict]:
    """Every container and init container of a workload (or of a Job's pod template)."""
    spec = pod_spec(obj)
    if spec is None:
        return []
    return [*spec.get("initContainers", []), *spec.get("containers", [])]


def pod_spec(obj: dict) -> dict | None:
    template = obj.get("spec", {}).get("template")
    return template.get("spec") if template else None


def set_image(objects: list[dict], image: dict) -> bool:
    used = False
    for obj in objects:
        for container in containers(obj):
            name, _, tag = container["image"].partition(":")
            if name == image["name"]:
                new_name = image.get("newName", name)
                new_tag = image.get("newTag", tag)
                container["image"] = f"{new_name}:{new_tag}" if new_tag else new_name
                used = True
    return used
