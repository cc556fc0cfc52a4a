"""Kubernetes import against Google's Online Boutique manifests (microservices-demo), verbatim."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from correlator.core.matching import Matcher
from correlator.importers import Document, import_kubernetes
from correlator.importers.document import build, validate
from correlator.importers.kubernetes import hosts
from correlator.importers.sources import read_documents

FIXTURES = Path(__file__).parent / "fixtures"
MANIFESTS = FIXTURES / "kubernetes" / "microservices-demo.yaml"

# What the manifests' env vars say each Deployment calls (e.g. frontend's
# CART_SERVICE_ADDR=cartservice:7070, cartservice's REDIS_ADDR=redis-cart:6379).
ONLINE_BOUTIQUE_CALLS = {
    "adservice": [],
    "cartservice": ["redis-cart"],
    "checkoutservice": [
        "cartservice",
        "currencyservice",
        "emailservice",
        "paymentservice",
        "productcatalogservice",
        "shippingservice",
    ],
    "currencyservice": [],
    "emailservice": [],
    "frontend": [
        "adservice",
        "cartservice",
        "checkoutservice",
        "currencyservice",
        "productcatalogservice",
        "recommendationservice",
        "shippingservice",
    ],
    "loadgenerator": ["frontend"],
    "paymentservice": [],
    "productcatalogservice": [],
    "recommendationservice": ["productcatalogservice"],
    "redis-cart": [],
    "shippingservice": [],
}


def _manifest_objects() -> list[dict[str, Any]]:
    return [d.data for d in read_documents([MANIFESTS]) if isinstance(d.data, dict)]


def _calls(components: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    return {k: sorted(v.get("depends_on", [])) for k, v in components.items()}


def _topology(imported: Any) -> Any:
    doc, _ = build(imported, "test")
    return validate(doc, "test")


def test_online_boutique_workloads_and_what_each_calls() -> None:
    imported = import_kubernetes(read_documents([MANIFESTS]))
    assert _calls(imported.components) == ONLINE_BOUTIQUE_CALLS
    assert {c["kind"] for c in imported.components.values()} == {"deployment"}
    # The frontend is configured to call a shopping assistant no manifest in the file deploys.
    assert imported.unresolved == [
        "unresolved: frontend SHOPPING_ASSISTANT_SERVICE_ADDR=shoppingassistantservice:80: "
        "'shoppingassistantservice' names no Service in the input"
    ]
    # The LoadBalancer Service frontend-external routes to the frontend: alerts may use it.
    assert imported.components["frontend"]["aliases"] == ["frontend-external"]


def test_alert_labels_map_to_the_imported_workloads() -> None:
    matcher = Matcher(_topology(import_kubernetes(read_documents([MANIFESTS]))))
    cases = {
        "cartservice": {"pod": "cartservice-5f9c7d8b6-x2x9q", "alertname": "KubePodCrashLooping"},
        "redis-cart": {"deployment": "redis-cart", "alertname": "KubeDeploymentReplicasMismatch"},
        "frontend": {"service": "frontend-external", "alertname": "TargetDown"},
        "checkoutservice": {"pod": "checkoutservice-7db49c4d49-8gdr2", "container": "server"},
    }
    assert {name: matcher.match(labels).component for name, labels in cases.items()} == {
        name: name for name in cases
    }


def test_kubectl_get_json_list_gives_the_same_topology_as_the_manifests() -> None:
    objects = _manifest_objects()
    listed = Document("kubectl.json", json.loads(json.dumps({"kind": "List", "items": objects})))
    # An API list response (DeploymentList) whose items carry no kind, plus the Services.
    bare = [
        {k: v for k, v in o.items() if k != "kind"} for o in objects if o["kind"] == "Deployment"
    ]
    typed = [
        Document("deployments.json", {"kind": "DeploymentList", "items": bare}),
        Document(
            "services.json",
            {
                "kind": "ServiceList",
                "items": [
                    {k: v for k, v in o.items() if k != "kind"}
                    for o in objects
                    if o["kind"] == "Service"
                ],
            },
        ),
    ]
    expected = import_kubernetes(read_documents([MANIFESTS])).components
    assert import_kubernetes([listed]).components == expected
    assert import_kubernetes(typed).components == expected


def test_namespaces_scope_service_names_and_match_selectors() -> None:
    objects = []
    for namespace in ("shop", "staging"):
        for obj in _manifest_objects():
            obj = copy.deepcopy(obj)
            obj["metadata"]["namespace"] = namespace
            objects.append(Document(f"{namespace}.yaml", obj))
    imported = import_kubernetes(objects)
    # The same Deployment name in two namespaces: qualified ids, calls resolved per namespace.
    assert imported.components["frontend.shop"]["depends_on"][2] == "cartservice.shop"
    assert "cartservice.staging" in imported.components["frontend.staging"]["depends_on"]
    assert imported.components["cartservice.staging"]["match"] == [
        {"namespace": "staging", "deployment": "cartservice"},
        {"namespace": "staging", "pod": "cartservice-*"},
    ]
    matcher = Matcher(_topology(imported))
    staging_pod = {"namespace": "staging", "pod": "cartservice-5f9c7d8b6-x2x9q"}
    assert matcher.match(staging_pod).component == "cartservice.staging"
    shop_deploy = {"namespace": "shop", "deployment": "redis-cart"}
    assert matcher.match(shop_deploy).component == "redis-cart.shop"


def test_recommended_name_label_configmaps_ingress_and_prefix_names() -> None:
    objects = _manifest_objects()
    cart = next(
        o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "cartservice"
    )
    cart["metadata"]["labels"]["app.kubernetes.io/name"] = "cart"
    # A database whose name extends another workload's: `cart-*` must not swallow its pods.
    db = copy.deepcopy(cart)
    db["metadata"] = {"name": "cart-db", "labels": {"app": "cart-db"}}
    db["spec"]["template"]["metadata"]["labels"] = {"app": "cart-db"}
    db["spec"]["selector"]["matchLabels"] = {"app": "cart-db"}
    short = copy.deepcopy(db)
    short["metadata"] = {"name": "cart", "labels": {"app": "cart-x"}}
    short["spec"]["template"]["metadata"]["labels"] = {"app": "cart-x"}
    cart["metadata"]["labels"]["app.kubernetes.io/name"] = "cartservice-app"
    container = cart["spec"]["template"]["spec"]["containers"][0]
    container["envFrom"] = [{"configMapRef": {"name": "cart-config"}}]
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cart-config"},
        "data": {"DATABASE_URL": "postgres://cart@cart-db-svc:5432/carts", "LOG_LEVEL": "info"},
    }
    db_service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "cart-db-svc"},
        "spec": {"selector": {"app": "cart-db"}, "ports": [{"port": 5432}]},
    }
    ingress = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "shop"},
        "spec": {
            "rules": [
                {
                    "host": "shop.example",
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {
                                    "service": {"name": "frontend", "port": {"number": 80}}
                                },
                            }
                        ]
                    },
                }
            ]
        },
    }
    docs = [Document("x.yaml", o) for o in [*objects, db, short, config, db_service, ingress]]
    imported = import_kubernetes(docs)
    assert imported.components["cartservice-app"]["aliases"] == ["cartservice"]
    assert sorted(imported.components["cartservice-app"]["depends_on"]) == ["cart-db", "redis-cart"]
    assert imported.components["frontend"]["depends_on"][2] == "cartservice-app"
    assert imported.components["shop"] == {
        "id": "shop",
        "kind": "ingress",
        "match": [{"ingress": "shop"}],
        "depends_on": ["frontend"],
    }
    # `cart` gets no `pod: cart-*` selector (cart-db's pods would match it) …
    assert imported.components["cart"]["match"] == [{"deployment": "cart"}]
    matcher = Matcher(_topology(imported))
    # … so each workload's pods still map to it.
    assert matcher.match({"pod": "cart-db-6d8f7b9c5-q2w3e"}).component == "cart-db"
    assert matcher.match({"pod": "cart-6d8f7b9c5-q2w3e"}).component == "cart"
    assert matcher.match({"service": "cart-db-svc"}).component == "cart-db"


def test_host_forms_in_env_values() -> None:
    assert hosts("cartservice:7070") == ["cartservice"]
    assert hosts("http://user:pw@api.shop.svc.cluster.local:8080/v1?x=1") == [
        "api.shop.svc.cluster.local"
    ]
    assert hosts("kafka-0.kafka:9092,kafka-1.kafka:9092") == ["kafka-0.kafka", "kafka-1.kafka"]
    assert hosts("[::1]:80") == []
