#!/usr/bin/env python3
"""An LTI 1.3 platform for the tests: PyPI `lti1p3platform` 0.1.8 (a platform library we did not
write: the launch message, its RS256 signature, its JWKS) behind a stdlib HTTP server, as an LMS's
course page would use it.

Env: TOOL_LOGIN_URL TOOL_LAUNCH_URL TOOL_JWKS_URL [LTI_CLIENT_ID LTI_DEPLOYMENT_ID]
Prints PLATFORM_URL=… LTI_ISS=… LTI_CLIENT_ID=… LTI_DEPLOYMENT_ID=… LTI_AUTH_URL=… LTI_TOKEN_URL=…
LTI_JWKS_URL=… once listening on 127.0.0.1, then `ready`.

Routes:
  /start?user=U[&forge=F]  the course page's link: a third-party-initiated login to the tool (302);
                           `&kind=deeplink`: the course editor's "add content" (a deep-linking request);
                           `&link=placed`: the link the last deep-linking answer made
  /authorize               the tool's authentication request → an auto-posting form with the id_token
  /jwks                    the platform's keys
  /token                   client credentials for the tool, its assertion checked against the tool's
                           JWKS (fetched anew each time, so a rotated tool key is seen at once)
  /nrps/ctx-1              the course's members (Names and Role Provisioning Services), with a token
  /deeplink/return         the tool's deep-linking answer (a JWT checked against the tool's JWKS)
  /_test/deeplinks         the content items received, for the test's asserts
The library checks little of the tool's authentication request itself; /authorize checks the rest
(scope, response type and mode, prompt, redirect URI, login and message hints) and answers 400.
`forge` makes a launch the platform would never send, for the tool's refusals: `expired` (the
library's own expiry, in the past), `deployment` (another deployment id, signed by the platform),
`stranger` (the same claims re-signed by a key the platform does not publish, under its kid),
`tampered` (a learner's claims made an instructor's, the signature left as it was).
"""
import base64, html, json, os, sys, uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlparse

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from lti1p3platform.ltiplatform import LTI1P3PlatformConfAbstract
from lti1p3platform.message_launch import LTIAdvantageMessageLaunchAbstract
from lti1p3platform.oidc_login import OIDCLoginAbstract
from lti1p3platform.registration import Registration
from lti1p3platform.request import Request
from lti1p3platform.service_connector import NamesRoleProvisioningService
from lti1p3platform.membership import Context
from lti1p3platform.exceptions import LtiServiceException

E = os.environ
CLIENT_ID = E.get("LTI_CLIENT_ID", "studio-tool")
DEPLOYMENT_ID = E.get("LTI_DEPLOYMENT_ID", "deployment-1")
MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership"


def pem(key, private):
    if private:
        return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption()).decode()
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
STRANGER = rsa.generate_private_key(public_exponent=65537, key_size=2048)
# The platform's people: roles on the course, name, email.
USERS = {
    "learner-1": ([f"{MEMBERSHIP}#Learner"], "Lea Learner", "lea@northside.test"),
    "learner-2": ([f"{MEMBERSHIP}#Learner"], "Leo Learner", None),
    "teacher-1": ([f"{MEMBERSHIP}#Instructor"], "Tess Teacher", "tess@northside.test"),
    "ta-1": ([f"{MEMBERSHIP}/Instructor#TeachingAssistant"], "Tom Assistant", "tom@northside.test"),
    "staff-1": (["http://purl.imsglobal.org/vocab/lis/v2/institution/person#Staff"], "Sam Staff", None),
    "learner-3": ([f"{MEMBERSHIP}#Learner"], "Lia Learner", "lia@northside.test"),
}
# Members who left the course: listed, not active.
GONE = {"gone-1": ([f"{MEMBERSHIP}#Learner"], "Gus Gone", "gus@northside.test")}
HINTS = {}  # lti_message_hint -> {"user", "forge", "kind", "link"}
DEEPLINKS = []  # the content items of each deep-linking answer taken
DL_DATA = {"placement": "week-1"}
BASE = ""


class Platform(LTI1P3PlatformConfAbstract):
    def init_platform_config(self, **kw):
        self._registration = (Registration().set_iss(BASE).set_client_id(CLIENT_ID)
                              .set_deployment_id(DEPLOYMENT_ID).set_oidc_login_url(E["TOOL_LOGIN_URL"])
                              .set_launch_url(E["TOOL_LAUNCH_URL"]).set_deeplink_launch_url(E["TOOL_LAUNCH_URL"])
                              .set_tool_key_set_url(E["TOOL_JWKS_URL"])
                              .set_platform_public_key(pem(KEY, False)).set_platform_private_key(pem(KEY, True)))

    def get_registration_by_params(self, **kw):
        return self._registration


class Req(Request):
    def build_metadata(self, r):
        return r


class Login(OIDCLoginAbstract):
    def set_lti_message_hint(self, **kw):
        self._lti_message_hint = kw["hint"]

    def get_redirect(self, url):
        return url


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def forged(token, how):
    """The launch as a platform would never send it (see the module's doc)."""
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    if how == "stranger":
        return jwt.encode(claims, pem(STRANGER, True), algorithm="RS256", headers={"kid": header["kid"]})
    if how == "tampered":
        claims["https://purl.imsglobal.org/spec/lti/claim/roles"] = [f"{MEMBERSHIP}#Instructor"]
        h, _, s = token.split(".")
        return f"{h}.{b64(json.dumps(claims).encode())}.{s}"
    return token


class Launch(LTIAdvantageMessageLaunchAbstract):
    def prepare_launch(self, pre):
        h = HINTS[pre["lti_message_hint"]]
        roles, name, email = USERS[h["user"]]
        self.set_user_data(h["user"], roles, full_name=name, email_address=email)
        self.set_launch_context_claim("ctx-1", [f"http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"],
                                      "Physics 101", "PHY101")
        self.set_nrps(f"{BASE}/nrps/ctx-1")
        if h["kind"] == "deeplink":
            self.set_dl(f"{BASE}/deeplink/return", title="Add a class", accept_types={"ltiResourceLink"},
                        extra_data=DL_DATA)
        elif h["link"] == "placed":
            item = DEEPLINKS[-1][0]
            self.set_resource_link_claim("rl-placed", title=item["title"])
            self.set_custom_parameters_claim(item.get("custom", {}))
        else:
            self.set_resource_link_claim("rl-1", title="Waves")
        if h["forge"] == "expired":
            self.set_id_token_expiration(-600)
        if h["forge"] == "deployment":
            self.set_extra_claims({"https://purl.imsglobal.org/spec/lti/claim/deployment_id": "deployment-other"})
        self.forge = h["forge"]

    def render_launch_form(self, d, **kw):
        e = lambda s: html.escape(str(s), quote=True)
        token = forged(d["id_token"], self.forge)
        return (f'<!doctype html><title>Launching</title><form method="POST" action="{e(d["launch_url"])}" id="f">'
                f'<input type="hidden" name="id_token" value="{e(token)}">'
                f'<input type="hidden" name="state" value="{e(d["state"])}"></form>'
                '<script>document.getElementById("f").submit()</script>')


class Nrps(NamesRoleProvisioningService):
    def get_context_by_id(self):
        return Context(id="ctx-1", label="PHY101", title="Physics 101")

    def is_resource_link_valid(self, context_id, resource_link_id):
        return resource_link_id == "rl-1"

    def get_member_data_page(self, page=1, limit=None, role=None, since=None, **kw):
        def member(user, status, v):
            roles, name, email = v
            m = {"user_id": user, "roles": roles, "name": name, "status": status}
            return {**m, "email": email} if email else m
        content = [member(u, "Active", v) for u, v in USERS.items()]
        content += [member(u, "Inactive", v) for u, v in GONE.items()]
        return {"content": content, "has_next": False, "next": None}


class H(BaseHTTPRequestHandler):
    def _req(self):
        u = urlparse(self.path)
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode() if n else ""
        return u.path, {"method": self.command, "get_data": dict(parse_qsl(u.query)),
                        "form_data": dict(parse_qsl(body)), "headers": self.headers,
                        "content_type": self.headers.get("Content-Type"), "path": u.path, "json": None}

    def _send(self, code, body, ctype="application/json", loc=None):
        b = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        if loc:
            self.send_header("Location", loc)
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)

    def do_GET(self):
        self.route()

    def do_POST(self):
        self.route()

    def route(self):
        path, r = self._req()
        q = {**r["get_data"], **r["form_data"]}
        p = Platform()
        try:
            if path == "/jwks":
                return self._send(200, p.get_jwks())
            if path == "/start":
                user = q.get("user", "learner-1")
                if user not in USERS:
                    return self._send(404, {"error": "no such user"})
                hint = str(uuid.uuid4())
                HINTS[hint] = {"user": user, "forge": q.get("forge", ""), "kind": q.get("kind", ""),
                               "link": q.get("link", "")}
                login = Login(Req(r), p)
                login.set_lti_message_hint(hint=hint)
                if HINTS[hint]["kind"] == "deeplink":
                    login.set_deeplinking_launch_url()
                return self._send(302, "", "text/plain", login.initiate_login(user))
            if path == "/authorize":
                reg = p.get_registration()
                h = HINTS.get(q.get("lti_message_hint"))
                ok = (h is not None and q.get("login_hint") == h["user"] and q.get("scope") == "openid"
                      and q.get("response_type") == "id_token" and q.get("response_mode") == "form_post"
                      and q.get("prompt") == "none" and q.get("redirect_uri") == reg.get_launch_url()
                      and q.get("nonce") and q.get("state"))
                if not ok:
                    return self._send(400, {"error": "invalid_request"})
                return self._send(200, Launch(Req(r), p).lti_launch(), "text/html")
            if path == "/deeplink/return":
                items = p.validate_deeplinking_resp({"JWT": r["form_data"].get("JWT", "")})
                DEEPLINKS.append(items)
                return self._send(200, '<!doctype html><title>Placed</title><p id="placed">Placed in the course</p>',
                                  "text/html")
            if path == "/_test/deeplinks":
                return self._send(200, DEEPLINKS)
            if path == "/token":
                return self._send(200, p.get_access_token(r["form_data"]))
            if path.startswith("/nrps/"):
                resp = Nrps(Req(r), p, f"{BASE}{path}").handle_get_members()
                body = resp.result if resp.result is not None else {"error": resp.message}
                return self._send(resp.code, body, resp.media_type)
            return self._send(404, {"error": "not found"})
        except LtiServiceException as exc:  # a names and roles request without a good token
            return self._send(exc.status_code, {"error": exc.message})
        except Exception as exc:  # the library raises plain exceptions for requests it refuses
            return self._send(400, {"error": type(exc).__name__, "detail": str(exc)})

    def log_request(self, code="-", size="-"):
        # Refusals only: a launch's URLs carry its state and nonce, and the test output need not.
        try:
            refused = int(code) >= 400
        except (TypeError, ValueError):
            refused = False
        if refused:
            sys.stderr.write(f"lti-platform: {self.command} {urlparse(self.path).path} answered {code}\n")


if __name__ == "__main__":
    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    BASE = f"http://127.0.0.1:{srv.server_address[1]}"
    print(f"PLATFORM_URL={BASE}\nLTI_ISS={BASE}\nLTI_CLIENT_ID={CLIENT_ID}\nLTI_DEPLOYMENT_ID={DEPLOYMENT_ID}\n"
          f"LTI_AUTH_URL={BASE}/authorize\nLTI_TOKEN_URL={BASE}/token\nLTI_JWKS_URL={BASE}/jwks\nready", flush=True)
    srv.serve_forever()
