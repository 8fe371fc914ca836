"""SASL DIGEST-MD5 with kazoo (and pure-sasl, from PyPI) against the server
under test, configured as ZooKeeper 3.8 documents it: users in a JAAS file's
``Server`` section, ``authProvider.N=...SASLAuthenticationProvider`` in
zoo.cfg for the ``sasl`` ACL scheme, ``superUser`` for a SASL super user.
The same tests pass against Apache ZooKeeper 3.8
(WARDEN_TEST_TARGET=zookeeper).
"""

import pytest
from kazoo.exceptions import InvalidACLError, NoAuthError
from kazoo.security import ACL, Id, Permissions, make_acl

from conftest import auth_failures_seen, wait_until

pytest.importorskip("puresasl", reason="kazoo needs pure-sasl for SASL")

JAAS = """
// DIGEST-MD5 users, as in ZooKeeper's SASL documentation
Server {
    org.apache.zookeeper.server.auth.DigestLoginModule required
    user_alice="alice-secret"
    user_bob="bob-secret"
    user_admin="admin-secret";
};
"""

SASL_PROVIDER = "org.apache.zookeeper.server.auth.SASLAuthenticationProvider"

with_sasl = pytest.mark.server_options(
    jaas=JAAS,
    extra_cfg={"authProvider.1": SASL_PROVIDER, "superUser": "admin"},
)

ALICE_ALL = make_acl("sasl", "alice", all=True)


def sasl(user, password):
    return {"sasl_options": {"mechanism": "DIGEST-MD5", "username": user, "password": password}}


def assert_auth_failed(make_client, **kw):
    """The server answers the digest-response with AuthFailed and closes;
    kazoo then gives up the connection as AUTH_FAILED (it reports CONNECTED
    before its SASL exchange runs, so `start` itself may not raise)."""
    client = make_client(connect=False, **kw)
    client.start_async()
    wait_until(lambda: auth_failures_seen(client), timeout=15, what="AUTH_FAILED")
    wait_until(lambda: not client.connected, what="the connection to close")


@with_sasl
def test_sasl_user_owns_its_node(make_client):
    alice = make_client(**sasl("alice", "alice-secret"))
    alice.create("/owned", b"mine", acl=[ALICE_ALL])
    data, stat = alice.get("/owned")
    assert data == b"mine"
    acl, _ = alice.get_acls("/owned")
    assert acl == [ACL(Permissions.ALL, Id("sasl", "alice"))]
    alice.set("/owned", b"changed")
    alice.create("/owned/child")
    assert alice.get_children("/owned") == ["child"]


@with_sasl
def test_other_sasl_user_and_anonymous_are_refused(make_client):
    alice = make_client(**sasl("alice", "alice-secret"))
    alice.create("/owned", b"mine", acl=[ALICE_ALL])
    bob = make_client(**sasl("bob", "bob-secret"))
    anonymous = make_client()
    for client in (bob, anonymous):
        with pytest.raises(NoAuthError):
            client.get("/owned")
        with pytest.raises(NoAuthError):
            client.set("/owned", b"x")
        with pytest.raises(NoAuthError):
            client.create("/owned/child")
        with pytest.raises(NoAuthError):
            client.get_children("/owned")
    assert alice.get("/owned")[0] == b"mine"


@with_sasl
def test_super_user_passes_every_acl(make_client):
    alice = make_client(**sasl("alice", "alice-secret"))
    alice.create("/owned", b"mine", acl=[ALICE_ALL])
    admin = make_client(**sasl("admin", "admin-secret"))
    assert admin.get("/owned")[0] == b"mine"
    admin.delete("/owned")
    assert alice.exists("/owned") is None


@with_sasl
def test_auth_acl_expands_to_the_sasl_identity(make_client):
    alice = make_client(**sasl("alice", "alice-secret"))
    alice.create("/mine", acl=[make_acl("auth", "", all=True)])
    acl, _ = alice.get_acls("/mine")
    assert acl == [ACL(Permissions.ALL, Id("sasl", "alice"))]


@with_sasl
def test_wrong_password_fails_authentication(make_client):
    assert_auth_failed(make_client, **sasl("alice", "wrong"))


@with_sasl
def test_unknown_user_fails_authentication(make_client):
    assert_auth_failed(make_client, **sasl("mallory", "whatever"))


@with_sasl
def test_legacy_sasl_auth_data(make_client):
    """kazoo's deprecated spelling: auth_data=[("sasl", "user:password")]."""
    alice = make_client(auth_data=[("sasl", "alice:alice-secret")])
    alice.create("/legacy", acl=[ALICE_ALL])
    with pytest.raises(NoAuthError):
        make_client().get("/legacy")


@with_sasl
def test_kazoo_sasl_digest_test(make_client):
    """kazoo's own TestSASLDigestAuthentication, against this server."""
    client = make_client(**sasl("alice", "alice-secret"))
    client.create("/1", acl=(make_acl("sasl", credential="alice", all=True),))
    with pytest.raises(NoAuthError):
        make_client().get("/1")
    client.delete("/1")
    assert_auth_failed(make_client, **sasl("baduser", "badpassword"))


@pytest.mark.server_options(jaas=JAAS)
def test_without_the_sasl_provider_sasl_acls_are_invalid(make_client):
    """SASL still authenticates, but no provider accepts `sasl` ACL ids."""
    alice = make_client(**sasl("alice", "alice-secret"))
    with pytest.raises(InvalidACLError):
        alice.create("/x", acl=[ALICE_ALL])
    with pytest.raises(InvalidACLError):
        alice.create("/x", acl=[make_acl("auth", "", all=True)])


@pytest.mark.server_options(
    jaas=JAAS,
    extra_cfg={"authProvider.1": SASL_PROVIDER, "sessionRequireClientSASLAuth": "true"},
)
def test_required_sasl_refuses_other_clients(make_client):
    from kazoo.exceptions import SessionClosedRequireSaslError

    alice = make_client(**sasl("alice", "alice-secret"))
    alice.create("/open", b"x")
    anonymous = make_client()
    with pytest.raises(SessionClosedRequireSaslError):
        anonymous.get("/open")
    digest_only = make_client(auth_data=[("digest", "carol:pw")])
    with pytest.raises(SessionClosedRequireSaslError):
        digest_only.get("/open")
    assert alice.get("/open")[0] == b"x"


@pytest.mark.server_options(
    extra_cfg={"enforce.auth.enabled": "true", "enforce.auth.schemes": "digest"},
)
def test_enforced_digest_auth(make_client):
    from kazoo.exceptions import SessionClosedRequireSaslError

    carol = make_client(auth_data=[("digest", "carol:pw")])
    carol.create("/c", b"y")
    anonymous = make_client()
    with pytest.raises(SessionClosedRequireSaslError):
        anonymous.exists("/c")
    assert carol.get("/c")[0] == b"y"
