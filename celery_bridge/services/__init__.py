"""Long-running programs beside the workers: the MQTT ingestion bridge and the command-line client.
Depend on core (and the XML-RPC client of the worker room)."""
