"""The alert engine: pure rules and lifecycle (`engine`), and the values it trades in (`model`)."""
