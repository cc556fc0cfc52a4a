"""Backstage import against the catalog-model example entities and the demo catalog, verbatim."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from correlator.importers import Document, import_backstage
from correlator.importers.backstage import Ref, parse_ref
from correlator.importers.sources import read_backstage, read_documents

FIXTURES = Path(__file__).parent / "fixtures" / "backstage"
EXAMPLES = FIXTURES / "examples"
CATALOG = [
    EXAMPLES / "all-components.yaml",  # Locations: their targets are followed
    EXAMPLES / "all-resources.yaml",
    EXAMPLES / "all-systems.yaml",
    EXAMPLES / "apis",
    EXAMPLES / "acme",
    EXAMPLES / "components" / "different-namespace.yaml",
    FIXTURES / "demo" / "catalog-info.yaml",
]


def _import(paths: list[Path]) -> Any:
    docs, notes, files = read_backstage(paths)
    imported = import_backstage(docs)
    return imported, notes, files


def test_example_catalog_dependencies_apis_subcomponents_and_systems() -> None:
    imported, notes, files = _import(CATALOG)
    assert notes == []
    assert files == 25  # 7 given + 18 reached through Location targets
    deps = {k: v.get("depends_on", []) for k, v in imported.components.items() if "depends_on" in v}
    assert deps == {
        # dependsOn: ['resource:artists-db']
        "artist-lookup": ["artists-db"],
        # wayback-search consumesApis wayback-archive, which the wayback-archive component provides
        "wayback-search": ["wayback-archive"],
        # both subsystems are subcomponentOf wayback-archive
        "wayback-archive": ["wayback-archive-ingestion", "wayback-archive-storage"],
    }
    assert imported.components["artists-db"]["kind"] == "database"  # a Resource's spec.type
    assert imported.components["playback-sdk"]["kind"] == "library"
    systems = {k: v["depends_on"] for k, v in imported.business_services.items()}
    # Systems become business services over their running members (the SDK library is not one).
    assert systems == {
        "artist-engagement-portal": ["artist-lookup", "www-artist"],
        "audio-playback": ["shuffle-api"],
        "podcast": ["podcast-api", "queue-proxy"],
    }
    # The demo catalog's website consumes a GraphQL API nothing in the input provides.
    assert imported.unresolved == [
        "unresolved: component 'backstage-demo' consumesApis demo-graphql: no component in "
        "the input providesApis it"
    ]
    assert imported.summary() == (
        "imported 16 components, 3 business services, 4 dependencies from 28 Backstage entities"
    )


def test_owners_follow_the_catalog_reference_rules() -> None:
    imported, _, _ = _import(CATALOG)
    owners = {k: v.get("owner") for k, v in imported.components.items()}
    assert owners["artist-lookup"] == "team-a"  # owner: team-a → group:default/team-a
    assert owners["searcher"] == "user:guest"  # owner: user:guest
    assert owners["different-namespace"] == "team-a"  # owner: default/team-a, from `alternative`
    assert owners["backstage-demo"] == "backstage/maintainers"
    labels = imported.components["artist-lookup"]["labels"]
    assert labels == {
        "backstage": "component:artist-lookup",
        "lifecycle": "experimental",
        "owner_email": "team-a@example.com",  # from the Group entity
        "system": "artist-engagement-portal",
    }
    assert (
        imported.components["different-namespace"]["labels"]["backstage"]
        == "component:alternative/different-namespace"
    )


def test_location_only_brings_what_it_names() -> None:
    imported, _, files = _import([EXAMPLES / "all-components.yaml"])
    assert files == 14
    assert len(imported.components) == 13
    assert (
        "unresolved: component 'artist-lookup' dependsOn resource:artists-db: no such entity "
        "in the input"
    ) in imported.unresolved


def test_reference_defaults() -> None:
    # The namespace defaults to the referring entity's, the kind to the field's default.
    assert parse_ref("artists-db", None, "alternative") == Ref("", "alternative", "artists-db")
    assert parse_ref("Resource:Default/Artists-DB", None, "x") == Ref(
        "resource", "default", "artists-db"
    )
    assert parse_ref({"kind": "Group", "name": "team-a"}, "group", "default") == Ref(
        "group", "default", "team-a"
    )
    assert parse_ref("", "api", "default") is None


def test_namespaces_kindless_dependencies_runbooks_and_pagerduty() -> None:
    docs = read_documents(
        [EXAMPLES / "components" / "different-namespace.yaml", EXAMPLES / "resources"]
    )
    base = next(d.data for d in docs if isinstance(d.data, dict) and d.data["kind"] == "Component")
    assert isinstance(base, dict)
    caller = copy.deepcopy(base)
    caller["metadata"] = {
        "name": "caller",
        "namespace": "alternative",
        "links": [{"url": "https://wiki.example/caller", "title": "On-call runbook"}],
        "annotations": {
            "pagerduty.com/service-id": "PX1234",
            "backstage.io/managed-by-location": "url:https://example/x",
        },
    }
    # Bare names: same namespace as the caller; no kind, so a Component, then a Resource.
    caller["spec"]["dependsOn"] = ["different-namespace", "artists-db", "component:default/nope"]
    imported = import_backstage([*docs, Document("caller.yaml", caller)])
    node = imported.components["caller"]
    assert node["depends_on"] == ["different-namespace"]
    assert node["runbook"] == "https://wiki.example/caller"
    assert node["labels"]["pagerduty.com/service-id"] == "PX1234"
    assert "backstage.io/managed-by-location" not in node["labels"]
    assert imported.unresolved == [
        # artists-db lives in the default namespace, not the caller's
        "unresolved: component 'caller' dependsOn alternative/artists-db: no such entity in "
        "the input",
        "unresolved: component 'caller' dependsOn component:nope: no such entity in the input",
        "unresolved: resource 'artists-db' is part of system artist-engagement-portal, "
        "which is not in the input",
    ]


def test_same_name_in_two_namespaces_and_url_locations(tmp_path: Path) -> None:
    entity = (EXAMPLES / "components" / "searcher-component.yaml").read_text()
    (tmp_path / "a.yaml").write_text(entity)
    (tmp_path / "b.yaml").write_text(
        entity.replace("name: searcher", "name: searcher\n  namespace: ops")
    )
    (tmp_path / "loc.yaml").write_text(
        "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: mixed\nspec:\n"
        "  targets:\n    - ./*.yaml\n    - https://github.com/backstage/backstage/blob/master/x.yaml\n"
    )
    imported, notes, _ = _import([tmp_path / "loc.yaml"])
    assert sorted(imported.components) == ["default/searcher", "ops/searcher"]
    assert notes == [
        "skipped: Location 'mixed' target https://github.com/backstage/backstage/blob/master/"
        "x.yaml: only files are followed, give the file instead"
    ]
