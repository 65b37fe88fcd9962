"""Render deploy/k8s the way `kubectl kustomize` does for the features it uses (namespace, images).

    python deploy/render.py > rendered.yaml

For a cluster, prefer `kubectl apply -k deploy/k8s`; this exists so the README's rendered example and the
tests come from the same files without a kustomize binary.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

K8S = Path(__file__).resolve().parent / "k8s"
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding"}


def render(root: Path = K8S) -> list[dict[str, Any]]:
    """Every resource of the kustomization, with its namespace and image overrides applied."""
    kustomization = yaml.safe_load((root / "kustomization.yaml").read_text())
    images = {i["name"]: f"{i['newName']}:{i['newTag']}" for i in kustomization.get("images", [])}
    out = []
    for name in kustomization["resources"]:
        for doc in yaml.safe_load_all((root / name).read_text()):
            if not doc:
                continue
            if doc["kind"] not in CLUSTER_SCOPED and "namespace" in kustomization:
                doc["metadata"]["namespace"] = kustomization["namespace"]
            if doc["kind"] == "RoleBinding":
                for subject in doc.get("subjects", []):
                    subject.setdefault("namespace", kustomization.get("namespace"))
            pod = doc.get("spec", {}).get("template", {}).get("spec", {})
            for container in pod.get("containers", []):
                container["image"] = images.get(container["image"], container["image"])
            out.append(doc)
    return out


if __name__ == "__main__":
    yaml.safe_dump_all(render(), sys.stdout, sort_keys=False)
