"""hallwatch's shared ground: the `hallwatch` command root (`hallwatch.cli`), the demo
(`hallwatch.demo`), the MQTT contract (`hallwatch.contract`) and the MQTT client helper
(`hallwatch.mqtt`) that edge nodes and the server both use.

Importing this package imports nothing else: an edge node, a server and the contract alone each
load only what they need.
"""
