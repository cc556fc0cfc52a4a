"""The stream processor: the Faust app that runs the core over Kafka (DESIGN §2).

Layout follows Faust's own guide: `app.py` builds the `faust.App`, `topics.py` names every topic,
`tables.py` the tables, and one module per stage wires its agent, service or timer. Decisions live
in `correlator.core`; `state.py` holds the per-stage state around the core (no Kafka), `codec.py`
the record shapes of the internal hops.
"""
