"""A secured Elasticsearch node for the tests, as users run one: security on, HTTPS with a CA made
with openssl (tests/certificates.py), file-realm users (see ops/services.py for why the file realm)."""

from __future__ import annotations

from pathlib import Path

from elasticsearch import AuthenticationException, Elasticsearch

from tests.certificates import make_authority, make_node_certificate
from tests.secured_node import SecuredElasticsearchNode, Security
from tests.support import wait_for

# Exactly the privileges README.md and docs/operations.md document for the worker.
WRITER_ROLE = """\
zoom_ingest_writer:
  cluster: [manage_index_templates]
  indices:
    - names: ["logs-zoom.webhook-*"]
      privileges: [create_doc, auto_configure]
"""
# The same without create_doc: documents are refused with 403.
NO_CREATE_DOC_ROLE = """\
zoom_ingest_no_create_doc:
  cluster: [manage_index_templates]
  indices:
    - names: ["logs-zoom.webhook-*"]
      privileges: [auto_configure]
"""
WRITER = ("zoom_writer", "writer-password-1")
ADMIN = ("admin", "admin-password-1")


def secured_node(base_dir: Path, certificates: Path) -> SecuredElasticsearchNode:
    """An unstarted node whose CA is certificates/ca.pem, with the users ADMIN and WRITER."""
    authority = make_authority(certificates, "ca")
    certificate, key = make_node_certificate(authority, certificates)
    security = Security(
        certificate=certificate,
        key=key,
        ca=authority.certificate,
        roles_yml=WRITER_ROLE + NO_CREATE_DOC_ROLE,
        admin=ADMIN,
        users={WRITER[0]: (WRITER[1], ["zoom_ingest_writer"])},
    )
    return SecuredElasticsearchNode(base_dir, security)


def add_user(
    node: SecuredElasticsearchNode, client: Elasticsearch, user: tuple[str, str], roles: list[str]
) -> None:
    """A file-realm user, once the running node accepts it (`client`: any client of the node)."""
    node.add_user(*user, roles)

    def accepted() -> bool:
        try:
            client.options(basic_auth=user).security.authenticate()
        except AuthenticationException:
            return False
        return True

    wait_for(accepted, what=f"the node to accept the new user {user[0]}")


def grant(node: SecuredElasticsearchNode, client: Elasticsearch, user: tuple[str, str], role: str) -> None:
    """Give the user another role, once the running node applies it."""
    node.set_roles(user[0], add=[role])
    wait_for(lambda: role in client.options(basic_auth=user).security.authenticate()["roles"], what=role)
