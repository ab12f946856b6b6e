"""The hallwatch server: MQTT ingest, history, the alert engine, and the API for the pages.

See docs/server.md. Entry points: `server.cli.cli` (`hallwatch server ...`), `server.runtime.build_server`,
`server.app.create_app`.
"""
