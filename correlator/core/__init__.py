"""The pure core: topology, alerts, impact and incidents.

Synchronous and deterministic. It never imports faust, aiokafka, textual or sqlmodel, never
reads the clock (time is passed in as integer milliseconds since the epoch) and never does I/O.
"""
