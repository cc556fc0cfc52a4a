"""War-room widgets, one per module. Each shows what its parent sets; none reads a feed."""
