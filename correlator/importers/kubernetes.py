"""Kubernetes manifests (or `kubectl get -o json` output) → topology components.

- Deployments, StatefulSets, DaemonSets and CronJobs become components. The id is the
  workload's `app.kubernetes.io/name` label where present and unique, else its name (and
  `name.namespace` where the same name runs in several namespaces).
- Services route to the workloads whose pod labels their selector matches; a Service that
  selects no workload in the input (ExternalName, selector-less, or its workload is elsewhere)
  becomes a component of its own. An Ingress becomes a component that depends on its backends.
- Dependencies come from what a workload is configured to call: env values (literal, or from a
  ConfigMap in the input) that name a Service host — `cartservice:7070`, `http://api.shop/`,
  `redis.cache.svc.cluster.local:6379` — in variables following the `*_ADDR`, `*_URL`,
  `*_HOST`… conventions or in host:port / URL form. Convention variables naming no Service in
  the input are reported as unresolved.
- `match` selectors map the labels alerts carry (kube-state-metrics and kube-prometheus:
  `deployment`, `statefulset`, `daemonset`, `cronjob`, `pod`, scoped by `namespace`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from correlator.importers.graph import Document, Imported, add_dependency, node

WORKLOAD_KINDS = {
    "Deployment": "deployment",
    "StatefulSet": "statefulset",
    "DaemonSet": "daemonset",
    "CronJob": "cronjob",
}
NAME_LABEL = "app.kubernetes.io/name"
CONVENTION = re.compile(
    r"(?:^|_)(?:ADDR|ADDRESS|ADDRS|URL|URLS|URI|HOST|HOSTS|HOSTNAME|ENDPOINT|ENDPOINTS|"
    r"SERVER|SERVERS|BROKERS|DSN)$",
    re.IGNORECASE,
)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_HOSTNAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")
_LOCAL = {"localhost", "127.0.0.1", "0.0.0.0", "::1"}
IGNORED_KINDS = {
    "ServiceAccount",
    "ConfigMap",
    "Secret",
    "Namespace",
    "Role",
    "RoleBinding",
    "ClusterRole",
    "ClusterRoleBinding",
    "PodDisruptionBudget",
    "HorizontalPodAutoscaler",
    "NetworkPolicy",
    "PersistentVolumeClaim",
    "Endpoints",
    "EndpointSlice",
}


@dataclass(slots=True)
class _Workload:
    kind: str
    name: str
    namespace: str
    labels: Mapping[str, str]
    pod_labels: Mapping[str, str]
    annotations: Mapping[str, str]
    containers: list[Mapping[str, Any]]
    id: str = ""
    aliases: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Service:
    name: str
    namespace: str
    selector: Mapping[str, str]
    external_name: str | None
    backends: list[str] = field(default_factory=list)
    """Component ids it routes to."""


def objects(documents: Sequence[Document]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every Kubernetes object, with `List` / `*List` documents unpacked (kubectl get -o json,
    API list responses whose items carry no kind)."""
    for doc in documents:
        yield from _unpack(doc.source, doc.data, None)


def _unpack(
    source: str, data: object, item_kind: str | None
) -> Iterator[tuple[str, Mapping[str, Any]]]:
    if not isinstance(data, Mapping):
        return
    kind = data.get("kind") or item_kind
    if isinstance(kind, str) and kind.endswith("List") and isinstance(data.get("items"), list):
        inner = kind[: -len("List")] or None
        for item in data["items"]:
            yield from _unpack(source, item, inner)
        return
    if isinstance(kind, str) and isinstance(data.get("metadata"), Mapping):
        yield source, ({**data, "kind": kind} if "kind" not in data else data)


def import_kubernetes(documents: Sequence[Document]) -> Imported:
    """Build components, dependencies and match selectors from manifests."""
    result = Imported(origin="kubernetes")
    workloads: list[_Workload] = []
    services: list[_Service] = []
    ingresses: list[Mapping[str, Any]] = []
    configmaps: dict[tuple[str, str], Mapping[str, str]] = {}
    skipped: Counter[str] = Counter()
    total = 0
    for _, obj in objects(documents):
        total += 1
        kind = str(obj["kind"])
        meta = obj["metadata"]
        name = meta.get("name")
        if not isinstance(name, str) or not name:
            skipped[f"{kind} without a name"] += 1
            continue
        namespace = str(meta.get("namespace") or "")
        spec = obj.get("spec") if isinstance(obj.get("spec"), Mapping) else {}
        assert isinstance(spec, Mapping)
        if kind in WORKLOAD_KINDS:
            workloads.append(_workload(kind, name, namespace, meta, spec))
        elif kind == "Service":
            raw_selector = spec.get("selector")
            selector = raw_selector if isinstance(raw_selector, Mapping) else {}
            external = spec.get("externalName")
            services.append(
                _Service(
                    name,
                    namespace,
                    _strings(selector),
                    external if isinstance(external, str) else None,
                )
            )
        elif kind == "Ingress":
            ingresses.append(obj)
        elif kind == "ConfigMap":
            data = obj.get("data")
            configmaps[(namespace, name)] = _strings(data if isinstance(data, Mapping) else {})
        elif kind not in IGNORED_KINDS:
            skipped[kind] += 1

    _assign_ids(workloads)
    taken = {w.id for w in workloads}
    for w in workloads:
        result.components[w.id] = _workload_node(w)
    by_service: dict[tuple[str, str], _Service] = {}
    for svc in services:
        by_service[(svc.namespace, svc.name)] = svc
        svc.backends = sorted(
            {
                w.id
                for w in workloads
                if w.namespace == svc.namespace
                and svc.selector
                and all(w.pod_labels.get(k) == v for k, v in svc.selector.items())
            }
        )
        if not svc.backends:
            svc_id = _free(svc.name, svc.namespace, taken, "-svc")
            taken.add(svc_id)
            labels = {"namespace": svc.namespace} if svc.namespace else {}
            if svc.external_name:
                labels["external_name"] = svc.external_name
            result.components[svc_id] = node(svc_id, kind="service", labels=labels)
            svc.backends = [svc_id]
            why = (
                f"ExternalName {svc.external_name}"
                if svc.external_name
                else "it selects no workload in the input"
            )
            result.unresolved.append(
                f"note: Service {_qualified(svc.name, svc.namespace)} imported as its own "
                f"component {svc_id!r} ({why})"
            )
    _service_aliases(workloads, services, result)

    for w in workloads:
        for var, value in _env(w, configmaps):
            _env_dependency(w, var, value, by_service, result)
    for ingress in ingresses:
        _ingress(ingress, by_service, taken, result)

    for what, count in sorted(skipped.items()):
        result.unresolved.append(f"skipped: {count} {what} object{'s' if count > 1 else ''}")
    result.read = f"{total} Kubernetes objects"
    return result


def _strings(value: Mapping[Any, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items() if v is not None}


def _workload(
    kind: str, name: str, namespace: str, meta: Mapping[str, Any], spec: Mapping[str, Any]
) -> _Workload:
    template: Any = spec.get("template")
    if kind == "CronJob":
        job = spec.get("jobTemplate")
        job_spec = job.get("spec") if isinstance(job, Mapping) else None
        template = job_spec.get("template") if isinstance(job_spec, Mapping) else None
    template = template if isinstance(template, Mapping) else {}
    pod_meta = template.get("metadata") if isinstance(template.get("metadata"), Mapping) else {}
    pod_spec = template.get("spec") if isinstance(template.get("spec"), Mapping) else {}
    containers = [
        c
        for key in ("initContainers", "containers")
        for c in (pod_spec.get(key) or [])
        if isinstance(c, Mapping)
    ]
    labels = meta.get("labels")
    pod_labels = pod_meta.get("labels")
    annotations = meta.get("annotations")
    return _Workload(
        kind=kind,
        name=name,
        namespace=namespace,
        labels=_strings(labels) if isinstance(labels, Mapping) else {},
        pod_labels=_strings(pod_labels) if isinstance(pod_labels, Mapping) else {},
        annotations=_strings(annotations) if isinstance(annotations, Mapping) else {},
        containers=containers,
    )


def _qualified(name: str, namespace: str) -> str:
    return f"{namespace}/{name}" if namespace else name


def _free(name: str, namespace: str, taken: set[str], suffix: str) -> str:
    for candidate in (name, f"{name}.{namespace}" if namespace else "", f"{name}{suffix}"):
        if candidate and candidate not in taken:
            return candidate
    n = 2
    while f"{name}{suffix}-{n}" in taken:
        n += 1
    return f"{name}{suffix}-{n}"


def _assign_ids(workloads: list[_Workload]) -> None:
    """`app.kubernetes.io/name` where unique, else the workload name, else `name.namespace`."""
    preferred = {
        id(w): w.labels.get(NAME_LABEL) or w.pod_labels.get(NAME_LABEL) or w.name for w in workloads
    }
    counts = Counter(preferred.values())
    names = Counter(w.name for w in workloads)
    for w in workloads:
        wanted = preferred[id(w)]
        if counts[wanted] == 1:
            w.id = wanted
        elif names[w.name] == 1:
            w.id = w.name
        else:
            w.id = f"{w.name}.{w.namespace}" if w.namespace else w.name
    seen: Counter[str] = Counter()
    for w in sorted(workloads, key=lambda w: (w.id, w.namespace, w.kind, w.name)):
        seen[w.id] += 1
        if seen[w.id] > 1:  # same name and namespace, different kinds
            w.id = f"{w.id}-{WORKLOAD_KINDS[w.kind]}"
    for w in workloads:
        if w.name != w.id:
            w.aliases.append(w.name)


def _workload_node(w: _Workload) -> dict[str, Any]:
    kind = WORKLOAD_KINDS[w.kind]
    labels = {"namespace": w.namespace} if w.namespace else {}
    owner = w.labels.get("team") or w.labels.get("owner") or w.annotations.get("owner")
    runbook = next(
        (v for k, v in sorted(w.annotations.items()) if "runbook" in k.lower() and "://" in v),
        None,
    )
    item = node(w.id, kind=kind, owner=owner, runbook=runbook, labels=labels)
    scope = {"namespace": w.namespace} if w.namespace else {}
    item["match"] = [{**scope, kind: w.name}]
    return item


def _pod_selectors(workloads: list[_Workload], result: Imported) -> None:
    """`pod: name-*` where no other workload's pods could match that glob (`cart-*` would also
    match `cart-db-…`); elsewhere the default pod rule (suffix removed) finds the workload."""
    for w in workloads:
        clash = any(
            o is not w and o.namespace == w.namespace and o.name.startswith(f"{w.name}-")
            for o in workloads
        )
        if not clash:
            scope = {"namespace": w.namespace} if w.namespace else {}
            result.components[w.id]["match"].append({**scope, "pod": f"{w.name}-*"})


def _service_aliases(
    workloads: list[_Workload], services: list[_Service], result: Imported
) -> None:
    """A workload's other names (its own name, the Services that route only to it) become
    aliases, so `service`/`app` labels that use them map; an alias two nodes claim is dropped."""
    _pod_selectors(workloads, result)
    claims: dict[str, set[str]] = {}
    for w in workloads:
        for alias in w.aliases:
            claims.setdefault(alias, set()).add(w.id)
    for svc in services:
        if len(svc.backends) == 1 and svc.name != svc.backends[0]:
            claims.setdefault(svc.name, set()).add(svc.backends[0])
    for alias in sorted(claims):
        owners = claims[alias]
        if alias in result.components:
            continue
        if len(owners) > 1:
            result.unresolved.append(
                f"note: alias {alias!r} left out: it names {', '.join(sorted(owners))}"
            )
            continue
        owner = next(iter(owners))
        result.components[owner].setdefault("aliases", []).append(alias)


def _env(
    w: _Workload, configmaps: Mapping[tuple[str, str], Mapping[str, str]]
) -> list[tuple[str, str]]:
    """(variable, value) pairs a workload's containers are configured with."""
    out: list[tuple[str, str]] = []
    for container in w.containers:
        for source in container.get("envFrom") or []:
            ref = source.get("configMapRef") if isinstance(source, Mapping) else None
            if isinstance(ref, Mapping) and isinstance(ref.get("name"), str):
                prefix = str(source.get("prefix") or "")
                data = configmaps.get((w.namespace, ref["name"]), {})
                out.extend((prefix + k, v) for k, v in sorted(data.items()))
        for var in container.get("env") or []:
            if not isinstance(var, Mapping) or not isinstance(var.get("name"), str):
                continue
            value = var.get("value")
            if value is None:
                ref = (var.get("valueFrom") or {}).get("configMapKeyRef")
                if isinstance(ref, Mapping):
                    value = configmaps.get((w.namespace, str(ref.get("name"))), {}).get(
                        str(ref.get("key"))
                    )
            if isinstance(value, str) and value:
                out.append((var["name"], value))
    return out


def hosts(value: str) -> list[str]:
    """Host names in an env value: `a:1,b:2`, `http://user@host:8080/path`, `host`."""
    out: list[str] = []
    for part in re.split(r"[,\s;]+", value.strip()):
        if not part:
            continue
        part = _SCHEME.sub("", part)
        part = part.split("/", 1)[0].split("?", 1)[0]
        part = part.rsplit("@", 1)[-1]
        if part.startswith("["):  # [ipv6]:port
            continue
        host = part.split(":", 1)[0].lower()
        if host and _HOSTNAME.match(host):
            out.append(host)
    return out


def _resolve(
    host: str, namespace: str, services: Mapping[tuple[str, str], _Service]
) -> _Service | None:
    """`svc`, `svc.ns`, `svc.ns.svc`, `svc.ns.svc.cluster.local` → the Service."""
    labels = host.split(".")
    if len(labels) == 1:
        return services.get((namespace, labels[0]))
    if len(labels) == 2 or (len(labels) >= 3 and labels[2] == "svc"):
        return services.get((labels[1], labels[0]))
    return None


def _env_dependency(
    w: _Workload,
    var: str,
    value: str,
    services: Mapping[tuple[str, str], _Service],
    result: Imported,
) -> None:
    if "$(" in value or "{{" in value:
        return  # a reference to another variable or a template: nothing literal to resolve
    convention = bool(CONVENTION.search(var))
    addressy = bool(_SCHEME.match(value)) or bool(re.search(r"^[^\s/]+:\d+", value))
    if not (convention or addressy):
        return
    for host in hosts(value):
        svc = _resolve(host, w.namespace, services)
        if svc is not None:
            for backend in svc.backends:
                if backend != w.id:
                    add_dependency(result.components[w.id], backend)
        elif convention and host not in _LOCAL and not re.match(r"^\d+(\.\d+){3}$", host):
            result.unresolved.append(
                f"unresolved: {w.id} {var}={value}: {host!r} names no Service in the input"
            )


def _ingress(
    ingress: Mapping[str, Any],
    services: Mapping[tuple[str, str], _Service],
    taken: set[str],
    result: Imported,
) -> None:
    meta = ingress["metadata"]
    name = str(meta["name"])
    namespace = str(meta.get("namespace") or "")
    spec = ingress.get("spec") if isinstance(ingress.get("spec"), Mapping) else {}
    assert isinstance(spec, Mapping)
    backends: list[Any] = []
    for key in ("defaultBackend", "backend"):
        if isinstance(spec.get(key), Mapping):
            backends.append(spec[key])
    for rule in spec.get("rules") or []:
        http = rule.get("http") if isinstance(rule, Mapping) else None
        for path in (http or {}).get("paths") or []:
            if isinstance(path, Mapping) and isinstance(path.get("backend"), Mapping):
                backends.append(path["backend"])
    ingress_id = _free(name, namespace, taken, "-ingress")
    taken.add(ingress_id)
    labels = {"namespace": namespace} if namespace else {}
    item = node(ingress_id, kind="ingress", labels=labels)
    item["match"] = [{**({"namespace": namespace} if namespace else {}), "ingress": name}]
    result.components[ingress_id] = item
    for backend in backends:
        service = backend.get("service")
        svc_name = service.get("name") if isinstance(service, Mapping) else None
        svc_name = svc_name or backend.get("serviceName")  # networking.k8s.io/v1beta1
        if not isinstance(svc_name, str):
            continue
        svc = services.get((namespace, svc_name))
        if svc is None:
            result.unresolved.append(
                f"unresolved: Ingress {_qualified(name, namespace)} backend {svc_name!r}: "
                "no such Service in the input"
            )
            continue
        for target in svc.backends:
            add_dependency(item, target)
