"""Topology import: build components and dependencies from where an organisation already
keeps them (a Backstage catalog, Kubernetes manifests, a tracing backend's service graph).

Each importer is a pure function from parsed documents to an `Imported` value; `sources`
reads files (the I/O edge) and `document` merges the overlay, validates and renders.
"""

from __future__ import annotations

from correlator.importers.backstage import import_backstage
from correlator.importers.graph import Document, Imported
from correlator.importers.kubernetes import import_kubernetes
from correlator.importers.otel import import_otel

__all__ = ["Document", "Imported", "import_backstage", "import_kubernetes", "import_otel"]
