"""`ImpactTree`: how an incident reaches customers.

Root causes (and what they drag down), business services, segments: each listed once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Tree

from tui.formatting import format_count
from tui.widgets.styles import service_label, state_text


class ImpactTree(Tree[str]):
    """A read-only tree built from one incident snapshot (labels are always literal `Text`)."""

    DEFAULT_CSS = """
    ImpactTree {
        height: auto;
        max-height: 20;
        padding: 0;
        background: transparent;
    }
    """

    incident: reactive[Mapping[str, Any] | None] = reactive(None, always_update=True)
    """The snapshot to draw; rebuilt only when its id or seq changes."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(Text("impact"), id=id)
        self.show_root = False
        self._drawn: tuple[str, int] | None = None

    def watch_incident(self, incident: Mapping[str, Any] | None) -> None:
        identity = (str(incident.get("id")), int(incident.get("seq") or 0)) if incident else None
        if identity == self._drawn:
            return
        self._drawn = identity
        self.clear()
        if incident is not None:
            build_impact_tree(self, incident)
            self.root.expand_all()


def build_impact_tree(tree: Tree[str], incident: Mapping[str, Any]) -> None:
    """Three groups, each listed once: the root causes (with the other affected components they
    drag down, "via"), the business services they take down, and the customer segments hit.

    A snapshot lists the members of each level but not the edges between them, so the levels
    are groups side by side rather than a chain: hanging every segment under every service
    would repeat them all and say nothing more.
    """
    components = [c for c in incident.get("components") or () if isinstance(c, dict)]
    services = [s for s in incident.get("business_services") or () if isinstance(s, dict)]
    segments = [
        s
        for s in incident.get("segments") or ()
        if isinstance(s, dict) and (s.get("affected") or s.get("degraded"))
    ]
    root_ids = [str(r) for r in incident.get("root_causes") or ()]
    by_id = {str(c.get("id")): c for c in components}
    others = [c for c in components if str(c.get("id")) not in root_ids]
    if not root_ids:  # no root cause named: start from every component
        root_ids, others = list(by_id), []

    causes = tree.root.add(_group_label(len(root_ids), "root cause"), data="root-causes")
    for cause_id in root_ids:
        causes.add_leaf(
            _component_label(by_id.get(cause_id, {"id": cause_id}), root=True), data=cause_id
        )
    if others:
        via = causes.add(_group_label(len(others), "component", prefix="via"), data="via")
        for component in others:
            via.add_leaf(_component_label(component, root=False), data=str(component.get("id")))
    if services:
        group = tree.root.add(_group_label(len(services), "business service"), data="services")
        for service in services:
            group.add_leaf(_service_label(service), data=str(service.get("id")))
    if segments:
        total = sum(s["affected"] for s in segments if isinstance(s.get("affected"), int))
        label = _group_label(len(segments), "segment")
        label.append(f" · {format_count(total)} customers affected", style="dim")
        group = tree.root.add(label, data="segments")
        for segment in segments:
            group.add_leaf(_segment_label(segment), data=str(segment.get("id")))


def _group_label(count: int, noun: str, *, prefix: str = "") -> Text:
    """`2 root causes`, `via 3 components`."""
    words = f"{count} {noun}{'s' if count != 1 else ''}"
    if prefix:
        return Text(f"{prefix} {words}", style="dim")
    return Text(words, style="bold")


def _component_label(component: Mapping[str, Any], *, root: bool) -> Text:
    text = Text(str(component.get("id", "?")), style="bold" if root else "")
    state = component.get("state")
    if state:
        text.append(" ")
        text.append_text(state_text(state))
    count = component.get("alert_count")
    if root and isinstance(count, int):
        text.append(f" · {count} alert{'s' if count != 1 else ''}", style="dim")
    return text


def _service_label(service: Mapping[str, Any]) -> Text:
    text = Text(service_label(service))
    text.append(" ")
    text.append_text(state_text(service.get("state")))
    impact = service.get("impact")
    if isinstance(impact, int | float):
        text.append(f" {impact:.0%}", style="dim")
    return text


def _segment_label(segment: Mapping[str, Any]) -> Text:
    text = Text(str(segment.get("name") or segment.get("id", "?")))
    affected, total = segment.get("affected"), segment.get("customers")
    if isinstance(affected, int) and isinstance(total, int):
        text.append(f" {format_count(affected)} of {format_count(total)} affected", style="dim")
    return text
