"""Fixtures for the transform tests: MaxMind's test databases for the GeoIP cases."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

MAXMIND_CACHE = Path(
    os.environ.get("ZOOM_INGEST_MAXMIND_CACHE", Path.home() / ".cache" / "zoom-ingest" / "maxmind")
)
DATABASES = ("GeoLite2-City-Test.mmdb", "GeoLite2-ASN-Test.mmdb")
SDIST_DIR = "tests/data/test-data"


@pytest.fixture(scope="session")
def maxmind_databases() -> dict[str, Path]:
    """{"city": path, "asn": path} of MaxMind's test databases.

    They ship in the maxminddb source distribution on PyPI; it is downloaded once (for the installed
    version) into the cache directory. When the download is impossible the GeoIP tests are skipped.
    """
    version = importlib.metadata.version("maxminddb")
    directory = MAXMIND_CACHE / version
    paths = {name: directory / name for name in DATABASES}
    if not all(path.is_file() for path in paths.values()):
        _fetch(version, directory)
    return {"city": paths[DATABASES[0]], "asn": paths[DATABASES[1]]}


def _fetch(version: str, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--disable-pip-version-check",
        "--no-deps",
        "--no-binary",
        ":all:",
        f"maxminddb=={version}",
        "-d",
        str(directory),
    ]
    try:
        subprocess.run(command, check=True, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.SubprocessError) as error:
        detail = getattr(error, "stderr", None) or error
        pytest.skip(
            f"GeoIP tests need MaxMind's test databases; downloading maxminddb {version} failed: {detail}"
        )
    archives = sorted(directory.glob(f"maxminddb-{version}.tar.gz"))
    if not archives:
        pytest.fail(f"pip download left no maxminddb-{version}.tar.gz in {directory}")
    with tarfile.open(archives[0]) as archive:
        for name in DATABASES:
            member = next((m for m in archive.getmembers() if m.name.endswith(f"{SDIST_DIR}/{name}")), None)
            if member is None:
                pytest.fail(f"{archives[0].name} has no {SDIST_DIR}/{name}")
            extracted = archive.extractfile(member)
            assert extracted is not None
            partial = directory / f"{name}.partial"
            partial.write_bytes(extracted.read())
            partial.replace(directory / name)
