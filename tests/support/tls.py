"""Certificates for TLS tests, made with openssl: nothing is shipped or downloaded."""

from __future__ import annotations

import subprocess
from pathlib import Path


def make_tls_files(d: Path) -> dict[str, Path]:
    """A CA, a broker certificate for 127.0.0.1/localhost and a client certificate, made with openssl."""

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=hallwatch test CA",
    )
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name, cn in (("broker", "localhost"), ("client", "node-client")):
        openssl(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            f"{name}.key",
            "-out",
            f"{name}.csr",
            "-subj",
            f"/CN={cn}",
        )
        extra = ["-extfile", "san.ext"] if name == "broker" else []
        openssl(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            f"{name}.crt",
            "-days",
            "2",
            *extra,
        )
    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "other-ca.key",
        "-out",
        "other-ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=some other CA",
    )
    return {
        "ca": d / "ca.crt",
        "other_ca": d / "other-ca.crt",
        "broker_cert": d / "broker.crt",
        "broker_key": d / "broker.key",
        "client_cert": d / "client.crt",
        "client_key": d / "client.key",
    }
