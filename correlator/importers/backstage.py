"""Backstage software catalog (`catalog-info.yaml`) → topology nodes.

Follows the catalog model's reference rules: a reference is `[kind:][namespace/]name`,
compared case-insensitively; a missing namespace is the *referring entity's* namespace; the
default kind depends on the field (`spec.owner` → Group, `spec.system` → System,
`consumesApis`/`providesApis` → API, `subcomponentOf` → Component; `dependsOn` has none, so a
bare name is looked up as a Component, then a Resource).

- Components and Resources become components (`kind` = their `spec.type`).
- `dependsOn` → `depends_on`; `dependencyOf` the other way round; `consumesApis: [X]` → a
  dependency on the component that `providesApis: [X]` (several providers: `any` of them);
  `subcomponentOf: P` → P depends on the subcomponent.
- Systems become business services that depend on their running members (Components other
  than libraries), so an overlay only has to add tiers and segments.
- `spec.owner` → `owner` (as Backstage shows it: `team-a`, `user:guest`); a runbook link →
  `runbook`; PagerDuty/Opsgenie and Kubernetes annotations, lifecycle and system → `labels`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from correlator.importers.graph import Document, Imported, add_dependency, node

KEPT_ANNOTATION_PREFIXES = (
    "pagerduty.com/",
    "opsgenie.com/",
    "backstage.io/kubernetes-",
    "github.com/project-slug",
    "grafana/",
    "prometheus.io/",
)
NODE_KINDS = ("component", "resource")
USED_KINDS = {"component", "resource", "system", "api", "group", "user", "location"}


@dataclass(frozen=True, slots=True)
class Ref:
    """A catalog reference, lower-cased for comparison."""

    kind: str
    namespace: str
    name: str

    def human(self, default_kind: str | None = None) -> str:
        """As Backstage displays it: kind and namespace left out when they are the default."""
        kind = "" if self.kind in (default_kind, "") else f"{self.kind}:"
        namespace = "" if self.namespace == "default" else f"{self.namespace}/"
        return f"{kind}{namespace}{self.name}"


@dataclass(slots=True)
class _Entity:
    source: str
    data: Mapping[str, Any]
    ref: Ref

    @property
    def spec(self) -> Mapping[str, Any]:
        spec = self.data.get("spec")
        return spec if isinstance(spec, Mapping) else {}

    @property
    def metadata(self) -> Mapping[str, Any]:
        meta = self.data.get("metadata")
        return meta if isinstance(meta, Mapping) else {}


def parse_ref(value: object, default_kind: str | None, default_namespace: str) -> Ref | None:
    """`[kind:][namespace/]name` (or the legacy `{kind, namespace, name}` mapping) → `Ref`;
    the kind is '' when it is neither given nor defaulted. None when it is not a reference."""
    if isinstance(value, Mapping):
        name = value.get("name")
        if not isinstance(name, str) or not name:
            return None
        kind = value.get("kind") or default_kind or ""
        namespace = value.get("namespace") or default_namespace
        return Ref(str(kind).lower(), str(namespace).lower(), name.lower())
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    kind = default_kind or ""
    if ":" in text:
        kind, text = text.split(":", 1)
    namespace = default_namespace
    if "/" in text:
        namespace, text = text.split("/", 1)
    if not text:
        return None
    return Ref(kind.lower(), namespace.lower(), text.lower())


def import_backstage(documents: Sequence[Document]) -> Imported:
    """Build components and business services from catalog entities."""
    result = Imported(origin="backstage")
    entities: dict[Ref, _Entity] = {}
    skipped: Counter[str] = Counter()
    for doc in documents:
        entity = _entity(doc)
        if entity is None:
            skipped["document that is not a catalog entity"] += 1
            continue
        if entity.ref in entities:
            first = entities[entity.ref].source
            result.unresolved.append(
                f"skipped: duplicate entity {entity.ref.human()} in {entity.source} "
                f"(keeping the one in {first})"
            )
            continue
        entities[entity.ref] = entity
        if entity.ref.kind not in USED_KINDS:
            skipped[f"{entity.data.get('kind')} entity"] += 1
    ids = _assign_ids([e for e in entities.values() if e.ref.kind in NODE_KINDS])
    providers = _providers(entities.values())

    for entity in entities.values():
        if entity.ref.kind in NODE_KINDS:
            result.components[ids[entity.ref]] = _component(entity, ids[entity.ref], entities)
    for entity in sorted(entities.values(), key=lambda e: ids.get(e.ref, "")):
        if entity.ref.kind in NODE_KINDS:
            _dependencies(entity, entities, ids, providers, result)

    systems = [e for e in entities.values() if e.ref.kind == "system"]
    taken = set(result.components)
    for system in systems:
        members = sorted(
            ids[e.ref]
            for e in entities.values()
            if e.ref.kind == "component"
            and str(e.spec.get("type", "")).lower() != "library"
            and _ref(e.spec.get("system"), "system", e) == system.ref
        )
        if not members:
            result.unresolved.append(
                f"skipped: system {system.ref.human('system')}: no running component is part "
                "of it, so it is not a business service"
            )
            continue
        service_id = (
            system.ref.name if system.ref.name not in taken else f"system:{system.ref.name}"
        )
        taken.add(service_id)
        item = _describe(system, service_id, entities)
        system_type = item.pop("kind", None)  # business services have no kind: keep it a label
        if system_type:
            item.setdefault("labels", {})["type"] = system_type
        item["depends_on"] = members
        result.business_services[service_id] = item
    for entity in entities.values():
        system_ref = _ref(entity.spec.get("system"), "system", entity)
        if entity.ref.kind in NODE_KINDS and system_ref is not None and system_ref not in entities:
            result.unresolved.append(
                f"unresolved: {entity.ref.kind} {ids[entity.ref]!r} is part of system "
                f"{system_ref.human('system')}, which is not in the input"
            )

    for what, count in sorted(skipped.items()):
        result.unresolved.append(f"skipped: {count} {what}{'s' if count > 1 else ''}")
    counted = sum(1 for e in entities.values() if e.ref.kind != "location")
    result.read = f"{counted} Backstage entities"
    return result


def _entity(doc: Document) -> _Entity | None:
    data = doc.data
    if not isinstance(data, Mapping):
        return None
    api = data.get("apiVersion")
    kind = data.get("kind")
    meta = data.get("metadata")
    if not isinstance(api, str) or not isinstance(kind, str) or not isinstance(meta, Mapping):
        return None
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        return None
    namespace = meta.get("namespace") or "default"
    return _Entity(doc.source, data, Ref(kind.lower(), str(namespace).lower(), name.lower()))


def _ref(value: object, default_kind: str | None, entity: _Entity) -> Ref | None:
    return parse_ref(value, default_kind, entity.ref.namespace)


def _assign_ids(entities: Sequence[_Entity]) -> dict[Ref, str]:
    """The entity name where it is unique; `namespace/name`, then `kind:namespace/name` where
    names collide."""
    by_name = Counter(_name(e) for e in entities)
    by_namespaced = Counter(f"{e.ref.namespace}/{_name(e)}" for e in entities)
    ids: dict[Ref, str] = {}
    for e in entities:
        name = _name(e)
        if by_name[name] == 1:
            ids[e.ref] = name
        elif by_namespaced[f"{e.ref.namespace}/{name}"] == 1:
            ids[e.ref] = f"{e.ref.namespace}/{name}"
        else:
            ids[e.ref] = f"{e.ref.kind}:{e.ref.namespace}/{name}"
    return ids


def _name(entity: _Entity) -> str:
    return str(entity.metadata.get("name"))


def _providers(entities: Sequence[_Entity] | Any) -> dict[Ref, list[Ref]]:
    """API ref → the components that provide it."""
    out: dict[Ref, list[Ref]] = {}
    for entity in entities:
        if entity.ref.kind != "component":
            continue
        for raw in _list(entity.spec.get("providesApis")):
            api = _ref(raw, "api", entity)
            if api is not None:
                out.setdefault(api, []).append(entity.ref)
    return out


def _list(value: object) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def _describe(entity: _Entity, node_id: str, entities: Mapping[Ref, _Entity]) -> dict[str, Any]:
    meta = entity.metadata
    spec = entity.spec
    labels: dict[str, str] = {"backstage": entity.ref.human()}
    for key in ("lifecycle", "system"):
        if isinstance(spec.get(key), str) and spec[key]:
            labels[key] = spec[key]
    annotations = meta.get("annotations")
    if isinstance(annotations, Mapping):
        for key, value in annotations.items():
            if isinstance(value, str | int) and str(key).startswith(KEPT_ANNOTATION_PREFIXES):
                labels[str(key)] = str(value)
    owner = None
    owner_ref = _ref(spec.get("owner"), "group", entity)
    if owner_ref is not None:
        owner = owner_ref.human("group")
        owner_entity = entities.get(owner_ref)
        if owner_entity is not None:
            profile = owner_entity.spec.get("profile")
            if isinstance(profile, Mapping) and isinstance(profile.get("email"), str):
                labels["owner_email"] = profile["email"]
    title = meta.get("title")
    description = meta.get("description")
    return node(
        node_id,
        name=title if isinstance(title, str) else None,
        kind=str(spec["type"]) if isinstance(spec.get("type"), str) else None,
        owner=owner,
        runbook=_runbook(meta),
        description=description.strip() if isinstance(description, str) else None,
        labels=labels,
    )


def _component(entity: _Entity, node_id: str, entities: Mapping[Ref, _Entity]) -> dict[str, Any]:
    item = _describe(entity, node_id, entities)
    item.setdefault("kind", entity.ref.kind)
    return item


def _runbook(meta: Mapping[str, Any]) -> str | None:
    for link in _list(meta.get("links")):
        if not isinstance(link, Mapping) or not isinstance(link.get("url"), str):
            continue
        words = " ".join(str(link.get(k, "")) for k in ("title", "type", "icon")).lower()
        if "runbook" in words or "playbook" in words:
            return str(link["url"])
    annotations = meta.get("annotations")
    if isinstance(annotations, Mapping):
        for key in sorted(map(str, annotations)):
            value = annotations[key]
            if "runbook" in key.lower() and isinstance(value, str) and "://" in value:
                return value
    return None


def _dependencies(
    entity: _Entity,
    entities: Mapping[Ref, _Entity],
    ids: Mapping[Ref, str],
    providers: Mapping[Ref, list[Ref]],
    result: Imported,
) -> None:
    me = ids[entity.ref]
    spec = entity.spec
    what = f"{entity.ref.kind} {me!r}"

    def target(raw: object, field: str) -> str | None:
        ref = _ref(raw, None, entity)
        if ref is None:
            result.unresolved.append(f"unresolved: {what} {field} {raw!r}: not an entity reference")
            return None
        candidates = [ref] if ref.kind else [Ref(k, ref.namespace, ref.name) for k in NODE_KINDS]
        for candidate in candidates:
            if candidate in ids:
                return ids[candidate]
        if any(c in entities for c in candidates):
            result.unresolved.append(
                f"unresolved: {what} {field} {ref.human()}: not a Component or Resource"
            )
        else:
            result.unresolved.append(
                f"unresolved: {what} {field} {ref.human()}: no such entity in the input"
            )
        return None

    for raw in _list(spec.get("dependsOn")):
        found = target(raw, "dependsOn")
        if found is not None and found != me:
            add_dependency(result.components[me], found)
    for raw in _list(spec.get("dependencyOf")):
        found = target(raw, "dependencyOf")
        if found is not None and found != me:
            add_dependency(result.components[found], me)
    parent = spec.get("subcomponentOf")
    if parent:
        ref = _ref(parent, "component", entity)
        if ref is not None and ref in ids:
            if ids[ref] != me:
                add_dependency(result.components[ids[ref]], me)
        else:
            result.unresolved.append(
                f"unresolved: {what} subcomponentOf {parent!r}: no such component in the input"
            )
    for raw in _list(spec.get("consumesApis")):
        api = _ref(raw, "api", entity)
        if api is None:
            continue
        provided_by = sorted({ids[p] for p in providers.get(api, []) if p in ids} - {me})
        if not provided_by:
            result.unresolved.append(
                f"unresolved: {what} consumesApis {api.human('api')}: no component in the "
                "input providesApis it"
            )
        elif len(provided_by) == 1:
            add_dependency(result.components[me], provided_by[0])
        else:
            add_dependency(result.components[me], {"any": provided_by})
