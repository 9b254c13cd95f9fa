"""An Elasticsearch node as users run one: security on, HTTPS, users and roles of the file realm.

The file realm because the distribution ops.services runs lacks analysis-common, without which the
.security index (native users, API keys) cannot be created. Users are added with the
distribution's own bin/elasticsearch-users; a running node re-reads them within a second or two.
"""

from __future__ import annotations

import base64
import os
import shutil
import ssl
import subprocess
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ops.services import ElasticsearchNode, ServiceError, elasticsearch_home, java_home, runtime_user


@dataclass(frozen=True)
class Security:
    """PEM files for HTTPS (the node's certificate, its key, the CA that signed it), the roles of the
    file realm (roles.yml content), a `superuser` the launcher uses to see that the node is ready,
    and further users: name -> (password, roles)."""

    certificate: Path
    key: Path
    ca: Path
    roles_yml: str = ""
    admin: tuple[str, str] = ("admin", "admin-password")
    users: dict[str, tuple[str, list[str]]] = field(default_factory=dict)


class SecuredElasticsearchNode(ElasticsearchNode):
    scheme = "https"

    def __init__(self, base_dir: Path, security: Security, http_port: int | None = None) -> None:
        super().__init__(base_dir, http_port)
        self.security = security

    def _security_settings(self, config: Path, fresh: bool) -> dict[str, object]:
        for name in ("certificate", "key", "ca"):
            shutil.copyfile(getattr(self.security, name), config / f"http-{name}.pem")
        (config / "roles.yml").write_text(self.security.roles_yml)
        if fresh:
            self.add_user(*self.security.admin, ["superuser"])
            for name, (password, roles) in self.security.users.items():
                self.add_user(name, password, roles)
        return {
            "xpack.security.enabled": True,
            "xpack.security.http.ssl.enabled": True,
            "xpack.security.http.ssl.certificate": "http-certificate.pem",
            "xpack.security.http.ssl.key": "http-key.pem",
            "xpack.security.http.ssl.certificate_authorities": ["http-ca.pem"],
            # Users and roles files are re-read within a second of a change (default 5s).
            "resource.reload.interval.high": "1s",
        }

    def _health_request(self) -> tuple[urllib.request.Request, ssl.SSLContext | None]:
        request, _ = super()._health_request()
        credentials = base64.b64encode(":".join(self.security.admin).encode()).decode()
        request.add_header("Authorization", f"Basic {credentials}")
        return request, ssl.create_default_context(cafile=str(self.security.ca))

    def add_user(self, name: str, password: str, roles: list[str]) -> None:
        self._users_tool("useradd", name, "-p", password, "-r", ",".join(roles))

    def set_roles(self, name: str, add: Sequence[str] = (), remove: Sequence[str] = ()) -> None:
        arguments = ["roles", name]
        if add:
            arguments += ["-a", ",".join(add)]
        if remove:
            arguments += ["-r", ",".join(remove)]
        self._users_tool(*arguments)

    def _users_tool(self, *arguments: str) -> None:
        """bin/elasticsearch-users on this node's configuration (it edits config/users, users_roles)."""
        environment = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "ES_JAVA_HOME": java_home(),
            "ES_PATH_CONF": str(self.base_dir / "config"),
        }
        command = [str(elasticsearch_home() / "bin" / "elasticsearch-users"), *arguments]
        result = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise ServiceError(f"elasticsearch-users {arguments[0]} failed: {result.stdout}{result.stderr}")
        user = runtime_user()
        if user is not None:  # the tool ran as root; the node reads these files as its own user
            for path in (self.base_dir / "config").iterdir():
                os.chown(path, user.pw_uid, user.pw_gid)
