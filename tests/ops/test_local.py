"""`zoom-ingest local` as the README tells a new user to run it: the README's example against a real
stack, the settings file `status`/`check` use beside it, SIGINT when started in the background."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest

from ops.cli import main
from ops.local import NODE_DIRECTORIES, Ports, authentication, node_directory, port_is_free, write_private
from ops.services import free_port
from shared.config import load_settings
from tests.support import wait_for

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_example() -> str:
    """The shell block a new user pastes to try `zoom-ingest local` (the second of its section)."""
    section = README.read_text().split("## Run it locally", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.DOTALL)
    assert len(blocks) == 2, "README's 'Run it locally' should hold the run command, then the example"
    return str(blocks[1])


def test_a_token_in_dotenv_is_the_one_local_uses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("ZOOM_INGEST_SECRET_TOKENS=the-apps-real-token\n")
    data_dir = tmp_path / ".local"
    data_dir.mkdir()
    assert authentication(load_settings(), data_dir) == {}
    assert not (data_dir / "secret-token").exists()


def test_without_a_token_local_generates_one_kept_private(tmp_path: Path) -> None:
    first = authentication(load_settings(), tmp_path)
    token = (tmp_path / "secret-token").read_text()
    assert first == {"ZOOM_INGEST_SECRET_TOKENS": token} and len(token) >= 24
    assert stat.S_IMODE((tmp_path / "secret-token").stat().st_mode) == 0o600
    assert authentication(load_settings(), tmp_path) == first  # kept across restarts


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another user")
def test_under_sudo_the_files_meant_for_the_user_are_theirs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUDO_UID", "65534")
    monkeypatch.setenv("SUDO_GID", "65534")
    path = tmp_path / "settings.env"
    path.write_text("old")
    path.chmod(0o644)
    write_private(path, "ZOOM_INGEST_REDIS_URL=redis://127.0.0.1:1/0\n")
    status = path.stat()
    assert (status.st_uid, status.st_gid, stat.S_IMODE(status.st_mode)) == (65534, 65534, 0o600)


@pytest.mark.skipif(os.geteuid() != 0, reason="the node runs as a user of its own only under root")
def test_a_home_the_node_user_cannot_enter_puts_its_files_elsewhere(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    data_dir = home / ".local"
    data_dir.mkdir()
    directory = node_directory(data_dir)
    try:
        assert directory.parent == NODE_DIRECTORIES
        assert (data_dir / "elasticsearch").resolve() == directory
        assert node_directory(data_dir) == directory  # the same one on the next start
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def test_a_port_in_use_is_named_with_the_flag_that_changes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["local", "--data-dir", str(tmp_path), "--redis-port", str(port)]) == 2
    expected = f"port {port} (--redis-port) is in use; choose another with --redis-port"
    assert expected in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []  # nothing started, nothing written


class Output:
    """A process's stdout, read on a thread so the test can wait for a line without blocking."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        assert process.stdout is not None
        stream = process.stdout
        threading.Thread(target=lambda: self.lines.extend(iter(stream.readline, "")), daemon=True).start()

    def __str__(self) -> str:
        return "".join(self.lines)


def test_readme_example_against_local_started_in_the_background(tmp_path: Path) -> None:
    """As `zoom-ingest local &` runs (SIGINT ignored), from a directory only root may enter, on
    ports of its own: the README's example finds its document, `status` and `check` beside it pass
    with the settings file, and SIGINT stops every process."""
    ports = Ports(*(free_port() for _ in range(5)))
    workdir = tmp_path / "clone"
    workdir.mkdir(mode=0o700)
    (workdir / ".venv").symlink_to(sys.prefix)
    command = [sys.executable, "-m", "ops.cli", "local", "--port", str(ports.receiver)]
    command += ["--es-port", str(ports.elasticsearch), "--redis-port", str(ports.redis)]
    command += ["--metrics-port", str(ports.metrics), "--receiver-metrics-port", str(ports.receiver_metrics)]
    local = subprocess.Popen(
        command,
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),  # what `&` does
    )
    output = Output(local)
    try:
        wait_for(lambda: "zoom-ingest is up" in str(output) or local.poll() is not None, 300, 0.5)
        assert local.poll() is None, str(output)
        data_dir = workdir / ".local"
        for name in ("settings.env", "secret-token"):
            status = (data_dir / name).stat()
            assert (status.st_uid, stat.S_IMODE(status.st_mode)) == (os.geteuid(), 0o600)
        script = readme_example().replace("8181", str(ports.receiver))
        script = script.replace("19200", str(ports.elasticsearch))
        example = subprocess.run(
            ["bash", "-e", "-c", script], cwd=workdir, capture_output=True, text=True, timeout=180
        )
        assert example.returncode == 0, example.stdout + example.stderr
        assert '"action" : "meeting.started"' in example.stdout, example.stdout
        for line in ("queued +0", "failed +0", "workers +1"):  # status, on the stack's Redis
            assert re.search(f"^{line}$", example.stdout, re.MULTILINE), example.stdout
        assert re.search(r"\d+ ok, \d+ warnings?, 0 failures", example.stdout), example.stdout  # check
        assert "FAIL" not in example.stdout
        # Both processes' metrics, each on its own monitoring port, none on the webhook port.
        for port, metric in (
            (ports.metrics, "zoom_ingest_events_indexed"),
            (ports.receiver_metrics, "zoom_ingest_receiver"),
        ):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
                assert metric in answer.read().decode(), port
    finally:
        local.send_signal(signal.SIGINT)
        try:
            returncode = local.wait(180)
        finally:
            local.kill()
            shutil.rmtree(node_directory(workdir / ".local"), ignore_errors=True)
    assert returncode == 0, str(output)
    for port in (ports.receiver, ports.elasticsearch, ports.redis, ports.metrics, ports.receiver_metrics):
        assert port_is_free(port), f"port {port} still taken after SIGINT:\n{output}"


def test_sigterm_stops_local_using_an_elasticsearch_of_yours(tmp_path: Path) -> None:
    """With --es-hosts no node starts (the worker waits for the given one); SIGTERM stops the rest."""
    ports = Ports(*(free_port() for _ in range(5)))
    elasticsearch = f"http://127.0.0.1:{ports.elasticsearch}"  # nothing listens: the worker waits
    command = [sys.executable, "-m", "ops.cli", "local", "--data-dir", str(tmp_path / "data")]
    command += ["--port", str(ports.receiver), "--redis-port", str(ports.redis)]
    command += ["--metrics-port", str(ports.metrics), "--receiver-metrics-port", str(ports.receiver_metrics)]
    command += ["--es-hosts", elasticsearch]
    local = subprocess.Popen(
        command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    output = Output(local)
    try:
        wait_for(lambda: "zoom-ingest is up" in str(output) or local.poll() is not None, 120, 0.2)
        assert local.poll() is None, str(output)
        assert f"documents in {elasticsearch}" in str(output)
        settings = (tmp_path / "data" / "settings.env").read_text()
        assert f"ZOOM_INGEST_ES_HOSTS={elasticsearch}" in settings
        assert not (tmp_path / "data" / "elasticsearch").exists()
        wait_for(lambda: not port_is_free(ports.metrics), 60, what="the worker's metrics port")
    finally:
        local.terminate()
        try:
            returncode = local.wait(120)
        finally:
            local.kill()
    assert returncode == 0, str(output)
    for port in (ports.receiver, ports.redis, ports.metrics, ports.receiver_metrics):
        assert port_is_free(port), f"port {port} still taken after SIGTERM:\n{output}"
