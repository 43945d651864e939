"""OAuth 1.0a user context, verified with oauthlib."""

from __future__ import annotations

from oauthlib.oauth1 import Client as OAuthClient
from sbhelp import Client, drive
from yarl import URL

from harvester.sandbox import Sandbox, SandboxConfig

CK, CS, AT, AS = "ckey", "csecret", "atoken", "asecret"


def _sign(url: str, now: float, nonce: str, secret: str = AS) -> str:
    client = OAuthClient(CK, client_secret=CS, resource_owner_key=AT, resource_owner_secret=secret,
                         nonce=nonce, timestamp=str(int(now)))
    _, headers, _ = client.sign(url, http_method="GET")
    return str(headers["Authorization"])


def test_oauth1_signed_accepted_and_nonce_replay_rejected() -> None:
    async def body(sb: Sandbox, c: Client) -> None:
        uid = sb.truth.most_active(1)[0].id
        url = str(URL(c.base + f"/2/users/{uid}/tweets").with_query({"max_results": "5", "tweet.fields": "lang"}))
        path = url[len(c.base):]
        auth = _sign(url, c.clock.now(), "nonce1")
        r = await c.get(path, headers={"Authorization": auth})
        assert r.status == 200, r.body
        assert r.headers["x-rate-limit-limit"] == "900"  # the user bucket
        assert (await c.get(path, headers={"Authorization": auth})).status == 401  # replayed nonce
        bad = _sign(url, c.clock.now(), "nonce2", secret="wrong")
        assert (await c.get(path, headers={"Authorization": bad})).status == 401
        stale = _sign(url, c.clock.now() - 3600, "nonce3")
        assert (await c.get(path, headers={"Authorization": stale})).status == 401
        other = str(URL(c.base + "/2/tweets/search/all").with_query({"query": "a"}))
        r = await c.get(other[len(c.base):], headers={"Authorization": _sign(other, c.clock.now(), "n4")})
        assert r.status == 403

    drive(SandboxConfig(), body,
          setup=lambda sb: sb.add_user_token(CK, CS, AT, AS, sb.truth.users_list()[0].id))


def test_any_bearer_keeps_users_and_oauth1_apart() -> None:
    """The CLI's default: any Bearer token is the app's; user tokens and OAuth 1.0a stay checked."""

    async def body(sb: Sandbox, c: Client) -> None:
        uid = sb.truth.most_active(1)[0].id
        path = f"/2/users/{uid}/tweets"
        r = await c.get(path, {"max_results": "5"}, token="never-registered")
        assert r.status == 200 and r.headers["x-rate-limit-limit"] == "10000"  # the app bucket
        r = await c.get(path, {"max_results": "5"}, token="user2")
        assert r.status == 200 and r.headers["x-rate-limit-limit"] == "900"  # still that user's bucket
        assert (await c.get(path, {"max_results": "5"}, token=None)).status == 401
        assert (await c.get(path, {"max_results": "5"}, headers={"Authorization": "Bearer "})).status == 401
        url = str(URL(c.base + path).with_query({"max_results": "5"}))
        bad = _sign(url, c.clock.now(), "nonce9", secret="wrong")
        assert (await c.get(path, {"max_results": "5"}, headers={"Authorization": bad})).status == 401

    def setup(sb: Sandbox) -> None:
        sb.accept_any_bearer()
        sb.add_oauth2_user_token("user2", sb.truth.users_list()[0].id)
        sb.add_user_token(CK, CS, AT, AS, sb.truth.users_list()[0].id)

    drive(SandboxConfig(), body, setup)
