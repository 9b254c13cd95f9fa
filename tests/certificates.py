"""Certificates for the tests that serve or reach HTTPS, made with openssl: a certificate that is
its own authority, or an authority and a node certificate it signs."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Authority:
    """A CA: its certificate and key."""

    certificate: Path
    key: Path


def _openssl(*arguments: str) -> None:
    subprocess.run(["openssl", *arguments], check=True, capture_output=True)


def make_authority(directory: Path, name: str) -> Authority:
    directory.mkdir(parents=True, exist_ok=True)
    certificate, key = directory / f"{name}.pem", directory / f"{name}.key"
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name}",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        "-keyout", str(key), "-out", str(certificate),
    )  # fmt: skip
    return Authority(certificate, key)


def make_node_certificate(authority: Authority, directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost signed by `authority`, and its key."""
    certificate, key, request = directory / "node.pem", directory / "node.key", directory / "node.csr"
    _openssl(
        "req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
        "-keyout", str(key), "-out", str(request),
    )  # fmt: skip
    extensions = directory / "node.ext"
    extensions.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    _openssl(
        "x509", "-req", "-in", str(request), "-CA", str(authority.certificate), "-CAkey", str(authority.key),
        "-CAcreateserial", "-days", "2", "-extfile", str(extensions), "-out", str(certificate),
    )  # fmt: skip
    return certificate, key


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that is its own authority, and its key: what a client pins."""
    certificate, key = directory / "cert.pem", directory / "key.pem"
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
        "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(certificate),
    )  # fmt: skip
    return certificate, key
