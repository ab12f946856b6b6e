"""The one place a paho-mqtt 2.x client is made, for edge nodes and the server alike.

Both sides need the same things from a client: callback API v2, MQTT 5 or 3.1.1, a user name and
password, and TLS with a CA and, for mutual TLS, a client certificate and key. `new_client` sets
all of that up and checks the TLS files first, so a missing file is reported by its setting's name
instead of as an OpenSSL error from deep inside a reconnect loop. What differs between the sides
(the node's last will and outbox, the server's shared subscriptions and manual acknowledgements)
stays with them.

Example:
    >>> client = new_client("node-1", protocol="5")
    >>> client.protocol == mqtt.MQTTv5
    True
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

Protocol = Literal["5", "3.1.1"]


class MqttSetupError(ValueError):
    """The client cannot be set up as configured.

    Attributes:
        setting: what is wrong: ``ca_file``, ``cert_file``, ``key_file``, ``tls`` (the files do not
            load together) or ``username``; each side prefixes it with its own settings' path.
        reason: the problem in plain words.
    """

    def __init__(self, setting: str, reason: str) -> None:
        super().__init__(f"{setting}: {reason}")
        self.setting = setting
        self.reason = reason


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """TLS to the broker: the CA that signed its certificate and, for mutual TLS, our own.

    Attributes:
        ca_file: the CA bundle; None trusts the system's CAs.
        cert_file: this client's certificate (with ``key_file``), for brokers that require one.
        key_file: the certificate's private key.
        insecure: skip the host name check (tests against a certificate for another name only).
    """

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    insecure: bool = False


def new_client(
    client_id: str,
    *,
    protocol: Protocol,
    username: str | None = None,
    password: str | None = None,
    tls: TlsFiles | None = None,
    clean_session: bool = True,
    manual_ack: bool = False,
    client_class: type[mqtt.Client] = mqtt.Client,
) -> mqtt.Client:
    """A paho client set up for our brokers, not yet connected.

    Args:
        client_id: the MQTT client id (a node's id; a server replica's stable id).
        protocol: "5", or "3.1.1" for brokers without MQTT 5.
        clean_session: for 3.1.1 only (MQTT 5 sets clean start when connecting): False keeps the
            session, and the QoS 1 messages queued for it, across reconnections.
        manual_ack: acknowledge QoS 1 messages only when the caller says so (after storing them).
        client_class: a subclass of paho's client to build (the server reads through a buffer).

    Raises:
        MqttSetupError: a TLS file is missing or unusable, or a password without a user name.
    """
    v5 = protocol == "5"
    client = client_class(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
        clean_session=None if v5 else clean_session,
        manual_ack=manual_ack,
    )
    if username is not None:
        client.username_pw_set(username, password)
    elif password is not None:
        raise MqttSetupError("username", "a password is set but no user name")
    if tls is not None:
        _set_tls(client, tls)
    return client


def _set_tls(client: mqtt.Client, tls: TlsFiles) -> None:
    if (tls.cert_file is None) != (tls.key_file is None):
        raise MqttSetupError("tls", "cert_file and key_file go together: give both or neither")
    for name, path in (("ca_file", tls.ca_file), ("cert_file", tls.cert_file), ("key_file", tls.key_file)):
        if path is not None and not path.is_file():
            raise MqttSetupError(name, f"no such file {path}")
    try:
        client.tls_set(
            ca_certs=str(tls.ca_file) if tls.ca_file else None,
            certfile=str(tls.cert_file) if tls.cert_file else None,
            keyfile=str(tls.key_file) if tls.key_file else None,
            cert_reqs=ssl.CERT_REQUIRED,
        )
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise MqttSetupError("tls", f"cannot load the certificates ({exc})") from None
    client.tls_insecure_set(tls.insecure)
