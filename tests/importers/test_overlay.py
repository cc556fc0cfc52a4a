"""The overlay's merge rules: it wins on conflicts, adds aliases and match selectors."""

from __future__ import annotations

from pathlib import Path

import pytest

from correlator.errors import UsageError
from correlator.importers import Document, import_backstage
from correlator.importers.document import build, check_overlay, render, validate
from correlator.importers.sources import read_backstage

EXAMPLES = Path(__file__).parent / "fixtures" / "backstage" / "examples"


def _catalog() -> list[Document]:
    docs, _, _ = read_backstage(
        [EXAMPLES / "all-components.yaml", EXAMPLES / "all-resources.yaml", EXAMPLES / "apis"]
    )
    return docs


def test_overlay_wins_key_by_key_and_adds_what_discovery_cannot_know() -> None:
    imported = import_backstage(_catalog())
    overlay = check_overlay(
        {
            "name": "music",
            "segments": [{"id": "listeners", "customers": 5000, "uses": ["search"]}],
            "business_services": [
                {"id": "search", "tier": 1, "depends_on": ["wayback-search"]},
            ],
            "components": [
                {
                    "id": "wayback-search",
                    "owner": "team-search",
                    "aliases": ["search-api"],
                    "labels": {"lifecycle": "deprecated", "tier": "gold"},
                    "depends_on": [{"soft": ["wayback-archive"]}],
                    "match": [{"app": "wayback-search-v2"}],
                },
                {"id": "cdn", "kind": "external"},
            ],
            "alert_rules": [{"match": {"alertname": "Watchdog*"}, "heartbeat": True}],
        },
        "overlay.yaml",
    )
    doc, notes = build(imported, "music", overlay)
    search = next(c for c in doc["components"] if c["id"] == "wayback-search")
    # Scalars and depends_on replaced, labels merged (overlay wins), aliases and match added.
    assert search == {
        "id": "wayback-search",
        "kind": "service",
        "description": "Search of the wayback machine",
        "owner": "team-search",
        "labels": {
            "backstage": "component:wayback-search",
            "lifecycle": "deprecated",
            "tier": "gold",
        },
        "aliases": ["search-api"],
        "depends_on": [{"soft": ["wayback-archive"]}],
        "match": [{"app": "wayback-search-v2"}],
    }
    assert [c["id"] for c in doc["components"]][:3] == ["artist-lookup", "artists-db", "cdn"]
    assert doc["alert_rules"] == [{"match": {"alertname": "Watchdog*"}, "heartbeat": True}]
    assert notes == [
        "overlay: 1 segments, 1 business services added, 0 changed, 1 components added, "
        "1 changed, 0 divisions, 1 alert rules"
    ]
    without_rules = {k: v for k, v in doc.items() if k != "alert_rules"}
    topology = validate(without_rules, "test")
    assert topology.nodes["wayback-search"].aliases == ("search-api",)
    text = render(without_rules, "header")
    assert text.startswith("# header\napiVersion: correlator/v1\nname: music\n")
    assert "\n  - {app: wayback-search-v2}\n" in text


def test_several_providers_of_one_api_are_redundant() -> None:
    docs = _catalog()
    twin = next(
        d.data
        for d in docs
        if isinstance(d.data, dict)
        and d.data["kind"] == "Component"
        and d.data["metadata"]["name"] == "wayback-archive"
    )
    assert isinstance(twin, dict)
    mirror = {**twin, "metadata": {"name": "wayback-archive-mirror"}}
    imported = import_backstage([*docs, Document("mirror.yaml", mirror)])
    assert imported.components["wayback-search"]["depends_on"] == [
        {"any": ["wayback-archive", "wayback-archive-mirror"]}
    ]


@pytest.mark.parametrize(
    ("overlay", "message"),
    [
        ([], "an overlay is a topology mapping"),
        ({"apiVersion": "v2"}, "apiVersion must be 'correlator/v1'"),
        ({"components": {"id": "x"}}, "components must be a list of mappings"),
        ({"segments": [{"customers": 1}]}, r"segments\[0\]: id is required"),
        ({"alert_rules": [{"severity": "info"}]}, r"alert_rules\[0\]: match is required"),
    ],
)
def test_bad_overlays(overlay: object, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        check_overlay(overlay, "o.yaml")
