"""The war room: a Textual terminal UI that shows incidents by customers affected, live."""
