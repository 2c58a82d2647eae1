"""``/console`` over real HTTP on loopback: sign-in, the session cookie, CSRF, escaping, headers,
and in headless Chromium what a person sees and does (sign in, read the tenant, re-drive)."""

from __future__ import annotations

import re
import time
from http.cookies import SimpleCookie

import pytest
import requests

from lambdas.http import console_session as cs
from lambdas.ops.failures import dead_letters
from lambdas.store.ports import DeadLetter, Tenant
from lambdas.store.sqlite import SqliteDeadLetterQueue
from tests.browser import Browser, chromium_path
from tests.integration.ops_rig import OpsRig
from tests.integration.test_ops_commands import park

HOSTILE = '<img src=x onerror="alert(1)">&"\''


def cookies_of(reply: requests.Response) -> dict[str, str]:
    """Set-Cookie values by name (requests would not send Secure cookies over http)."""
    jar: SimpleCookie = SimpleCookie()
    for value in reply.raw.headers.get_all("Set-Cookie") or []:
        jar.load(value)
    return {k: m.value for k, m in jar.items()}


def set_cookie_lines(reply: requests.Response) -> list[str]:
    return list(reply.raw.headers.get_all("Set-Cookie") or [])


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def sign_in(rig: OpsRig, key: str) -> tuple[requests.Response, str]:
    """(the login answer, the Cookie header to send afterwards)."""
    form = requests.get(rig.base + "/console", timeout=10)
    nonce = cookies_of(form)[cs.LOGIN_COOKIE]
    reply = requests.post(
        rig.base + "/console/login",
        data={"csrf": csrf_of(form.text), "key": key},
        headers={"Cookie": f"{cs.LOGIN_COOKIE}={nonce}"},
        allow_redirects=False,
        timeout=10,
    )
    session = cookies_of(reply).get(cs.SESSION_COOKIE, "")
    return reply, f"{cs.SESSION_COOKIE}={session}"


def page(rig: OpsRig, cookie: str) -> requests.Response:
    return requests.get(rig.base + "/console", headers={"Cookie": cookie}, timeout=10)


def parked_letters(rig: OpsRig) -> int:
    return len(dead_letters(SqliteDeadLetterQueue(rig.db)))


def test_headers_are_strict(rig: OpsRig) -> None:
    reply = requests.get(rig.base + "/console", timeout=10)
    assert reply.status_code == 200
    csp = reply.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert "script-src" not in csp and "unsafe-inline" not in csp
    assert reply.headers["X-Frame-Options"] == "DENY"
    assert reply.headers["Cache-Control"] == "no-store"
    assert "<script" not in reply.text and "shop" not in reply.text


def test_sign_in_sets_a_strict_session_cookie_not_the_key(rig: OpsRig) -> None:
    reply, cookie = sign_in(rig, rig.key)
    assert reply.status_code == 303 and reply.headers["Location"] == "/console"
    (line,) = [x for x in set_cookie_lines(reply) if x.startswith(cs.SESSION_COOKIE + "=")]
    for flag in ("HttpOnly", "Secure", "SameSite=Strict", "Path=/console"):
        assert flag in line
    assert rig.key not in line and rig.key.split("_")[2] not in line
    shown = page(rig, cookie)
    assert "shop" in shown.text and "ops-test" in shown.text


def test_wrong_or_revoked_keys_and_forged_sessions_get_the_form(rig: OpsRig) -> None:
    wrong, _ = sign_in(rig, rig.key[:-1] + "x")
    assert wrong.status_code == 401 and "shop" not in wrong.text
    assert "not valid" in wrong.text
    assert not any(x.startswith(cs.SESSION_COOKIE + "=") for x in set_cookie_lines(wrong))
    # Sign-in without the form's token (a foreign page posting a key) is refused.
    bare = requests.post(rig.base + "/console/login", data={"key": rig.key}, timeout=10)
    assert bare.status_code == 403 and not cookies_of(bare).get(cs.SESSION_COOKIE)

    _, cookie = sign_in(rig, rig.key)
    key_id, expires, nonce, mac = cookie.split("=", 1)[1].split(".")
    forged = f"{cs.SESSION_COOKIE}={key_id}.{int(expires) + 86400}.{nonce}.{mac}"
    assert "shop" not in page(rig, forged).text
    assert rig.keys.delete(rig.key_id)
    assert "shop" not in page(rig, cookie).text  # revoking the key ends its sessions


def test_a_malformed_session_expiry_gets_the_form_not_a_500(rig: OpsRig) -> None:
    # Past 4300 digits int() raises ValueError: any visitor could make every console page 500.
    cookie = f"{cs.SESSION_COOKIE}={rig.key_id}.{'9' * 5000}.nonce.mac"
    reply = requests.get(rig.base + "/console", headers={"Cookie": cookie}, timeout=10)
    assert reply.status_code == 200 and 'name="key"' in reply.text
    assert cs.read_session(b"k", rig.keys, cookie.split("=", 1)[1], time.time()) is None


def test_actions_need_the_session_and_its_csrf_token(rig: OpsRig) -> None:
    _, cookie = sign_in(rig, rig.key)
    token = csrf_of(page(rig, cookie).text)
    _, other = sign_in(rig, rig.key)
    other_token = csrf_of(page(rig, other).text)
    assert token != other_token
    before = parked_letters(rig)
    url = rig.base + "/console/redrive"
    for headers, data in (
        ({"Cookie": cookie}, {"tenant": "shop"}),  # no token
        ({"Cookie": cookie}, {"tenant": "shop", "csrf": other_token}),  # another session's
        ({"Cookie": cookie}, {"tenant": "shop", "csrf": token + "x"}),
        ({}, {"tenant": "shop", "csrf": token}),  # no session
    ):
        reply = requests.post(url, data=data, headers=headers, allow_redirects=False, timeout=10)
        assert reply.status_code == 403, data
    assert parked_letters(rig) == before == 1
    assert not rig.data.tenants.get("shop").paused

    done = requests.post(
        url,
        data={"tenant": "shop", "csrf": token},
        headers={"Cookie": cookie},
        allow_redirects=False,
        timeout=10,
    )
    assert done.status_code == 303 and parked_letters(rig) == 0
    paused = requests.post(
        rig.base + "/console/pause",
        data={"tenant": "shop", "csrf": token},
        headers={"Cookie": cookie},
        allow_redirects=False,
        timeout=10,
    )
    assert paused.status_code == 303 and rig.data.tenants.get("shop").paused


def test_hostile_names_and_error_texts_are_escaped(rig: OpsRig) -> None:
    rig.data.tenants.create(Tenant(name=HOSTILE, qbwc_user="hostile", password_hash="x"))
    park(rig.target, rig.parked, reason=f"Accounts: INVALID_DATA: {HOSTILE}")
    SqliteDeadLetterQueue(rig.db).send([DeadLetter(HOSTILE, "{}", HOSTILE, time.time())])
    _, cookie = sign_in(rig, rig.key)
    html = page(rig, cookie).text
    assert "<img" not in html and 'onerror="' not in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;&quot;&#x27;" in html
    # The Connect button's form carries the name escaped, as a hidden field.
    assert '<input type="hidden" name="tenant" value="&lt;img src=x' in html


# --- in a browser -----------------------------------------------------------------------------

CHROMIUM = chromium_path()
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no chromium binary (Debian: apt-get install chromium; make test installs it as root)",
)


@needs_chromium
def test_a_person_signs_in_reads_the_status_and_redrives(rig: OpsRig) -> None:
    assert CHROMIUM is not None
    with Browser(CHROMIUM) as browser:
        browser.open(rig.base + "/console")
        assert "API key" in browser.text() and "shop" not in browser.text()
        browser.run(
            f"document.querySelector('input[name=key]').value = {rig.key!r};"
            "document.querySelector('form').submit()",
            navigates=True,
        )
        text = browser.text()
        assert "Signed in with key ops-test" in text
        row = browser.run(
            "[...document.querySelectorAll('tbody tr')].find("
            "r => r.querySelector('td.tenant')?.innerText === 'shop').innerText"
        )
        assert "warning" in row and "parked 1" in row and "not connected" in row
        # The badge is styled: the inline style sheet passed the CSP by its hash.
        color = browser.run(
            "getComputedStyle(document.querySelector('.badge.warning')).backgroundColor"
        )
        assert color == "rgb(178, 106, 0)"
        assert browser.run("document.cookie") == ""  # HttpOnly: no script can read the session
        assert "ZOHO_MANDATORY_NOT_FOUND" in text and rig.parked.source_id in text
        assert "Connect QuickBooks Online" in text
        assert browser.run(
            "[...document.querySelectorAll('button')].some(b => b.innerText === 'Re-drive shop')"
        )
        browser.run(
            "[...document.querySelectorAll('button')]"
            ".find(b => b.innerText === 'Re-drive shop').click()",
            navigates=True,
        )
        assert "Re-drove 1 parked record(s) onto the record queue." in browser.text()
    assert parked_letters(rig) == 0
