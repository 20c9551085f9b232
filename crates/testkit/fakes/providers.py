"""Local fake of the four SMS/voice/push providers pam_otp's tests use (Python 3 stdlib only).

    python3 providers.py --cert SRV.pem --key SRV.key --accounts ACCOUNTS.json --record DIR [--port 0]

Serves, on ONE loopback HTTPS port (127.0.0.1, port 0 = chosen by the OS), every endpoint below,
and prints exactly one line `listening PORT` on stdout once it accepts connections. It logs
nothing else (never a credential, never a code); it runs until killed.

ACCOUNTS.json: the credentials the fake accepts (anything else is refused as the provider does):
    {"twilio":  {"account_sid", "auth_token", "api_key", "api_secret",
                 "verify_service_sid", "messaging_service_sid"},
     "vonage":  {"api_key", "api_secret", "application_id", "public_key_file"},
     "arkesel": {"api_key"},
     "fcm":     {"project_id", "client_email", "private_key_id", "public_key_file"}}
public_key_file: PEM "PUBLIC KEY" (SubjectPublicKeyInfo, RSA) of the Vonage application / of
the Google service account; RS256 signatures are checked with it (RSASSA-PKCS1-v1_5 + SHA-256,
computed here with pow() on the integers parsed from the DER: no openssl process per request).

Endpoints (provider name as used by the fault API / the records, then api):
  twilio         messages  POST /2010-04-01/Accounts/{AccountSid}/Messages.json
  twilio-verify  start     POST /v2/Services/{ServiceSid}/Verifications
  twilio-verify  check     POST /v2/Services/{ServiceSid}/VerificationCheck
  vonage         sms       POST /sms/json
  vonage-verify  start     POST /v2/verify
  vonage-verify  check     POST /v2/verify/{request_id}          (DELETE = cancel, 204)
  arkesel        sms       POST /api/v2/sms/send
  arkesel-otp    generate  POST /api/otp/generate
  arkesel-otp    verify    POST /api/otp/verify
  fcm            token     POST /token                           (Google OAuth 2.0 JWT bearer)
  fcm            send      POST /v1/projects/{project_id}/messages:send
Any other path: 404, recorded with provider "unknown" and a violation.

Records (appended before the answer is sent, one JSON object a line):
  DIR/requests.jsonl   {"provider","api","method","path","query" (raw query string),
                        "headers" (names lower-cased; Authorization kept as sent),
                        "body" (raw text), "fields" (parsed form/JSON, or null),
                        "violations": [strings; empty when the request has the documented
                        shape], "status": answered HTTP status (null when dropped)}
  DIR/delivered.jsonl  {"provider","api","to","text","code"}: each message/code "delivered to a
                        device". code: for Verify/OTP the code the fake generated; for messaging
                        and push the first run of 6-8 digits in the text (null if none). For fcm,
                        text is the JSON of the message's notification+data.

Verification codes the fake generates: Twilio Verify 6 digits (service default), valid 10 min,
5 checks; a new start to a To with a pending verification reuses it (same sid, same code;
at most 5 sends). Vonage Verify v2: code_length (default 4), valid channel_timeout (default 300
s) x workflow steps, 3 wrong codes end it (410); a second start to the same number while one is
pending: 409. Arkesel OTP: `length` characters of `type`, valid `expiry` minutes; a new generate
replaces the number's code.

Fault injection (control API; never recorded in requests.jsonl):
  POST /_fake/next   {"provider": "twilio|twilio-verify|vonage|vonage-verify|arkesel|arkesel-otp|fcm",
                      "answer": NAME, "times": 1, "retry_after": 30, "delay_ms": N}
      makes the next `times` WELL-FORMED requests to that provider (malformed ones get their
      validation error and do not consume a fault) answer with NAME:
        bad_credentials, invalid_number, insufficient_balance, rate_limited (Retry-After header
        and/or the provider's own field = retry_after), server_error,
        unregistered / sender_id_mismatch / third_party_auth_error / internal (fcm only),
        slow (sleep delay_ms, then answer normally), drop (close the connection unanswered).
      fcm faults apply to messages:send only (never to /token). A name a provider does not
      document (e.g. insufficient_balance for fcm) is refused with 400.
  POST /_fake/reset      clears pending faults.
  GET  /_fake/requests   the records of requests.jsonl, as one JSON array.
  GET  /_fake/delivered  the records of delivered.jsonl, as one JSON array.
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import socket
import ssl
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
INTL_DIGITS = re.compile(r"^[1-9][0-9]{6,14}$")  # E.164 without "+" (Vonage, Arkesel)
FCM_TOKEN = re.compile(r"^[A-Za-z0-9_:\-]{20,512}$")
CODE_IN_TEXT = re.compile(r"(?<![0-9])[0-9]{6,8}(?![0-9])")

LOCK = threading.Lock()
STATE = {
    "faults": {},  # provider -> [ {answer, times, retry_after, delay_ms} ]
    "twilio_verifications": {},  # sid -> {...}
    "vonage_requests": {},  # request_id -> {...}
    "arkesel_otps": {},  # number -> {...}
    "fcm_tokens": {},  # access token -> expiry (epoch seconds)
}
ARGS = None
ACCOUNTS = None
PUBKEYS = {}

PROVIDERS = ("twilio", "twilio-verify", "vonage", "vonage-verify", "arkesel", "arkesel-otp", "fcm")
COMMON_FAULTS = ("bad_credentials", "invalid_number", "insufficient_balance", "rate_limited",
                 "server_error", "slow", "drop")
FAULTS = {p: COMMON_FAULTS for p in PROVIDERS}
FAULTS["fcm"] = ("bad_credentials", "invalid_number", "rate_limited", "server_error", "unregistered",
                 "sender_id_mismatch", "third_party_auth_error", "internal", "slow", "drop")


# ---------------------------------------------------------------- RSA / JWT


def _der(buf, i):
    tag = buf[i]
    length = buf[i + 1]
    i += 2
    if length & 0x80:
        n = length & 0x7F
        length = int.from_bytes(buf[i:i + n], "big")
        i += n
    return tag, buf[i:i + length], i + length


def load_rsa_public(path):
    """(n, e) of a PEM SubjectPublicKeyInfo RSA key."""
    with open(path) as f:
        pem = f.read()
    lines = [l for l in pem.splitlines() if l and not l.startswith("-----")]
    der = base64.b64decode("".join(lines))
    _, spki, _ = _der(der, 0)
    _, algid, j = _der(spki, 0)
    if bytes.fromhex("2a864886f70d010101") not in algid:
        raise ValueError("not an RSA public key")
    _, bits, _ = _der(spki, j)
    _, seq, _ = _der(bits[1:], 0)
    _, n, k = _der(seq, 0)
    _, e, _ = _der(seq, k)
    return int.from_bytes(n, "big"), int.from_bytes(e, "big")


SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")


def rs256_verify(pub, message, signature):
    """RSASSA-PKCS1-v1_5 with SHA-256 (RFC 8017 8.2.2), as JWS RS256 (RFC 7518 3.3) uses it."""
    n, e = pub
    k = (n.bit_length() + 7) // 8
    if len(signature) != k:
        return False
    s = int.from_bytes(signature, "big")
    if s >= n:
        return False
    em = pow(s, e, n).to_bytes(k, "big")
    t = SHA256_DIGEST_INFO + hashlib.sha256(message).digest()
    expected = b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t
    return hmac.compare_digest(em, expected)


def b64url_decode(part):
    if "=" in part or not re.fullmatch(r"[A-Za-z0-9_\-]*", part):
        raise ValueError("not unpadded base64url")
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def parse_jwt(token, pub):
    """(header, claims, problem): problem is None when the RS256 signature verifies."""
    parts = token.split(".")
    if len(parts) != 3:
        return None, None, "JWT does not have three parts"
    try:
        header = json.loads(b64url_decode(parts[0]))
        claims = json.loads(b64url_decode(parts[1]))
        sig = b64url_decode(parts[2])
    except (ValueError, UnicodeDecodeError):
        return None, None, "JWT parts are not base64url JSON"
    if not isinstance(header, dict) or not isinstance(claims, dict):
        return None, None, "JWT header/claims are not JSON objects"
    if header.get("alg") != "RS256":
        return header, claims, "JWT alg is not RS256"
    if not rs256_verify(pub, (parts[0] + "." + parts[1]).encode(), sig):
        return header, claims, "JWT signature does not verify with the configured public key"
    return header, claims, None


# ---------------------------------------------------------------- helpers


def now():
    return time.time()


def rfc2822(t=None):
    return time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(t or now()))


def iso(t=None):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t or now()))


def sid(prefix):
    return prefix + secrets.token_hex(16)


def digits(n):
    return "".join(secrets.choice("0123456789") for _ in range(n))


def first_code(text):
    m = CODE_IN_TEXT.search(text or "")
    return m.group(0) if m else None


def append(name, entry):
    with LOCK:
        with open(os.path.join(ARGS.record, name), "a") as f:
            f.write(json.dumps(entry) + "\n")


def read_records(name):
    path = os.path.join(ARGS.record, name)
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def deliver(provider, api, to, text, code):
    append("delivered.jsonl", {"provider": provider, "api": api, "to": to, "text": text, "code": code})


def take_fault(provider):
    with LOCK:
        queue = STATE["faults"].get(provider) or []
        if not queue:
            return None
        fault = queue[0]
        fault["times"] -= 1
        if fault["times"] <= 0:
            queue.pop(0)
        return dict(fault)


class Answer:
    def __init__(self, status, body=None, headers=None, ctype="application/json"):
        self.status = status
        self.body = body
        self.headers = headers or {}
        self.ctype = ctype


DROP = object()


class Req:
    """One request: raw parts, parsed fields, and the violations found so far."""

    def __init__(self, method, path, query, headers, body):
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers  # lower-cased names
        self.raw = body
        self.text = body.decode("utf-8", "replace")
        self.fields = None
        self.violations = []
        self.provider = "unknown"
        self.api = "unknown"

    def bad(self, text):
        self.violations.append(text)

    def media_type(self):
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def form(self):
        """Form fields (one value each); repeated names and non-form bodies are violations."""
        if self.media_type() != "application/x-www-form-urlencoded":
            self.bad("content type is %r, not application/x-www-form-urlencoded"
                     % self.headers.get("content-type", ""))
            self.fields = {}
            return {}
        out = {}
        try:
            pairs = parse_qsl(self.text, keep_blank_values=True, strict_parsing=bool(self.text))
        except ValueError:
            self.bad("body is not valid application/x-www-form-urlencoded")
            pairs = []
        for k, v in pairs:
            if k in out:
                self.bad("form parameter %s is repeated" % k)
            out[k] = v
        self.fields = out
        return out

    def json_body(self):
        """The JSON object of the body (None when it is not one: a violation)."""
        if self.media_type() != "application/json":
            self.bad("content type is %r, not application/json" % self.headers.get("content-type", ""))
            return None

        def pairs(items):
            obj = {}
            for k, v in items:
                if k in obj:
                    self.bad("JSON key %s is repeated" % k)
                obj[k] = v
            return obj

        try:
            obj = json.loads(self.text, object_pairs_hook=pairs)
        except ValueError:
            self.bad("body is not valid JSON")
            return None
        if not isinstance(obj, dict):
            self.bad("JSON body is not an object")
            return None
        self.fields = obj
        return obj

    def basic(self):
        """(user, password) of an HTTP Basic Authorization header, or None."""
        auth = self.headers.get("authorization", "")
        if not auth.startswith("Basic "):
            return None
        try:
            user, _, pw = base64.b64decode(auth[6:], validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return user, pw

    def bearer(self):
        auth = self.headers.get("authorization", "")
        return auth[7:] if auth.startswith("Bearer ") else None


def unknown_keys(req, obj, allowed, where):
    for k in obj:
        if k not in allowed:
            req.bad("%s has an undocumented parameter %s" % (where, k))
    return [k for k in obj if k not in allowed]


def same(a, b):
    return isinstance(a, str) and isinstance(b, str) and hmac.compare_digest(a.encode(), b.encode())


# ---------------------------------------------------------------- Twilio (Messaging and Verify)
#
# Error body of every Twilio REST API: {"code", "message", "more_info", "status"}
#   https://www.twilio.com/docs/usage/twilios-response#response-formats-exceptions
# HTTP Basic: AccountSid:AuthToken, or API key SID (SK...):secret
#   https://www.twilio.com/docs/iam/api-keys , https://www.twilio.com/docs/usage/requests-to-twilio
# Codes: 20003 Authenticate (401) https://www.twilio.com/docs/errors/20003
#        20004 Method not allowed (405) https://www.twilio.com/docs/errors/20004
#        20005 Account not active (ran out of funds) https://www.twilio.com/docs/api/errors/20005
#        20404 Not Found (404; also an approved/expired Verification) https://www.twilio.com/docs/errors/20404
#        20429 Too many requests (429, safe to retry) https://www.twilio.com/docs/api/errors/20429
#        20503 Service unavailable (503) https://www.twilio.com/docs/errors/20503


def twilio_error(status, code, message, headers=None):
    return Answer(status, {"code": code, "message": message,
                           "more_info": "https://www.twilio.com/docs/errors/%d" % code,
                           "status": status}, headers)


def twilio_auth(req, path_account=None):
    t = ACCOUNTS["twilio"]
    cred = req.basic()
    ok = cred is not None and (
        (same(cred[0], t["account_sid"]) and same(cred[1], t["auth_token"]))
        or (same(cred[0], t["api_key"]) and same(cred[1], t["api_secret"])))
    if ok and path_account is not None and not same(path_account, t["account_sid"]):
        req.bad("AccountSid in the path is not the account the credentials belong to")
        ok = False
    if not ok:
        if cred is None:
            req.bad("no HTTP Basic Authorization header")
        else:
            req.bad("HTTP Basic credentials are not the account's (AccountSid:AuthToken or SK key:secret)")
        return twilio_error(401, 20003, "Authenticate", {"WWW-Authenticate": 'Basic realm="Twilio API"'})
    return None


def twilio_fault(fault, verify):
    name = fault["answer"]
    if name == "bad_credentials":
        return twilio_error(401, 20003, "Authenticate")
    if name == "invalid_number":
        if verify:
            return twilio_error(400, 60200, "Invalid parameter `To`: +XXXXXXXXXXX")
        return twilio_error(400, 21211, "Invalid 'To' Phone Number: +XXXXXXXXXXX")
    if name == "insufficient_balance":
        return twilio_error(401, 20005, "Account not active")
    if name == "rate_limited":
        return twilio_error(429, 20429, "Too Many Requests", {"Retry-After": str(fault["retry_after"])})
    if name == "server_error":
        return twilio_error(503, 20503, "Service Unavailable")
    return None


TWILIO_MESSAGE_OPTIONAL = {
    "StatusCallback", "ApplicationSid", "MaxPrice", "ProvideFeedback", "Attempt", "ValidityPeriod",
    "ForceDelivery", "ContentRetention", "AddressRetention", "SmartEncoded", "PersistentAction",
    "TrafficType", "ShortenUrls", "ScheduleType", "SendAt", "SendAsMms", "ContentVariables",
    "RiskCheck", "MediaUrl", "ContentSid", "Tags"}
ALPHA_SENDER = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")


# Twilio Programmable Messaging, create a Message:
#   https://www.twilio.com/docs/messaging/api/message-resource#create-a-message-resource
#   POST /2010-04-01/Accounts/{AccountSid}/Messages.json, form-encoded; To (E.164) required;
#   From (E.164 phone number or alphanumeric sender ID) or MessagingServiceSid (MG + 32 hex);
#   Body up to 1,600 characters. 201 + the Message (sid SM..., status "queued", or "accepted"
#   when sent through a Messaging Service without From).
#   Errors: 21211 Invalid 'To' https://www.twilio.com/docs/api/errors/21211 ;
#   21604 'To' required https://www.twilio.com/docs/api/errors/21604 ;
#   21602 Body required https://www.twilio.com/docs/api/errors/21602 ;
#   21603 'From' required https://www.twilio.com/docs/api/errors/21603 ;
#   21212 Invalid 'From' https://www.twilio.com/docs/api/errors/21212 ;
#   21617 body over 1600 characters https://www.twilio.com/docs/api/errors/21617 ;
#   21701 Messaging Service invalid https://www.twilio.com/docs/api/errors/21701
def twilio_messages(req, account):
    req.provider, req.api = "twilio", "messages"
    if req.method != "POST":
        req.bad("method %s, not POST" % req.method)
        return twilio_error(405, 20004, "Method not allowed")
    denied = twilio_auth(req, account)
    f = req.form()
    if denied:
        return denied
    unknown_keys(req, f, {"To", "From", "MessagingServiceSid", "Body"} | TWILIO_MESSAGE_OPTIONAL,
                 "Message")
    to, frm, mg, body = f.get("To"), f.get("From"), f.get("MessagingServiceSid"), f.get("Body")
    if not to:
        req.bad("To is missing")
        return twilio_error(400, 21604, "A 'To' phone number is required.")
    if not E164.match(to):
        req.bad("To is not E.164")
        return twilio_error(400, 21211, "Invalid 'To' Phone Number: %s" % to[:3] + "XXXX")
    if not frm and not mg:
        req.bad("neither From nor MessagingServiceSid")
        return twilio_error(400, 21603, "A 'From' phone number is required.")
    if frm and not (E164.match(frm) or ALPHA_SENDER.match(frm)):
        req.bad("From is neither E.164 nor an alphanumeric sender ID")
        return twilio_error(400, 21212, "Invalid From Number (caller ID): %s" % frm)
    if mg is not None and not (re.fullmatch(r"MG[0-9a-f]{32}", mg)
                               and same(mg, ACCOUNTS["twilio"]["messaging_service_sid"])):
        req.bad("MessagingServiceSid is not the account's Messaging Service")
        return twilio_error(400, 21701, "The Messaging Service Sid %s is invalid." % mg)
    if not body:
        req.bad("Body is missing")
        return twilio_error(400, 21602, "Message body is required.")
    if len(body) > 1600:
        req.bad("Body is longer than 1600 characters")
        return twilio_error(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
    if req.violations:
        return None  # only undocumented extras: Twilio ignores them; answered as usual below
    return "ok"


def twilio_messages_ok(req):
    f = req.fields
    t = ACCOUNTS["twilio"]
    msid = sid("SM")
    created = rfc2822()
    status = "queued" if f.get("From") else "accepted"
    deliver("twilio", "messages", f["To"], f["Body"], first_code(f["Body"]))
    return Answer(201, {
        "account_sid": t["account_sid"], "api_version": "2010-04-01", "body": f["Body"],
        "date_created": created, "date_sent": None, "date_updated": created,
        "direction": "outbound-api", "error_code": None, "error_message": None,
        "from": f.get("From"), "messaging_service_sid": f.get("MessagingServiceSid"),
        "num_media": "0", "num_segments": str(max(1, (len(f["Body"]) + 152) // 153)),
        "price": None, "price_unit": "USD", "sid": msid, "status": status, "to": f["To"],
        "uri": "/2010-04-01/Accounts/%s/Messages/%s.json" % (t["account_sid"], msid),
        "subresource_uris": {
            "media": "/2010-04-01/Accounts/%s/Messages/%s/Media.json" % (t["account_sid"], msid)}})


TWILIO_VERIFY_OPTIONAL = {
    "CustomFriendlyName", "CustomMessage", "SendDigits", "Locale", "Amount", "Payee", "RateLimits",
    "ChannelConfiguration", "AppHash", "TemplateSid", "TemplateCustomSubstitutions", "DeviceIp",
    "EnableSnaClientToken", "RiskCheck", "Tags"}
TWILIO_VERIFY_TTL = 600


def twilio_verification_json(v):
    t = ACCOUNTS["twilio"]
    return {
        "sid": v["sid"], "service_sid": t["verify_service_sid"], "account_sid": t["account_sid"],
        "to": v["to"], "channel": v["channel"], "status": v["status"], "valid": v["status"] == "approved",
        "lookup": {}, "amount": None, "payee": None,
        "send_code_attempts": [{"attempt_sid": a, "channel": v["channel"], "time": iso(v["created"])}
                               for a in v["attempts"]],
        "date_created": iso(v["created"]), "date_updated": iso(),
        "sna": None,
        "url": "https://verify.twilio.com/v2/Services/%s/Verifications/%s" % (t["verify_service_sid"], v["sid"])}


def twilio_verify_common(req, service):
    req.provider = "twilio-verify"
    if req.method != "POST":
        req.bad("method %s, not POST" % req.method)
        return twilio_error(405, 20004, "Method not allowed")
    denied = twilio_auth(req)
    f = req.form()
    if denied:
        return denied
    if not same(service, ACCOUNTS["twilio"]["verify_service_sid"]):
        req.bad("ServiceSid in the path is not the account's Verify Service")
        return twilio_error(404, 20404, "The requested resource %s was not found" % req.path[3:])
    return None


# Twilio Verify v2, start a Verification:
#   https://www.twilio.com/docs/verify/api/verification#start-new-verification
#   POST https://verify.twilio.com/v2/Services/{ServiceSid}/Verifications, form To (E.164 for
#   sms/call/whatsapp) and Channel (sms|call|email|whatsapp|sna|auto) required -> 201, status
#   "pending", valid false; 60200 invalid parameter https://www.twilio.com/docs/api/errors/60200 ;
#   60203 max send attempts (5, 429) https://www.twilio.com/docs/api/errors/60203 ;
#   a verification is valid 10 minutes https://www.twilio.com/docs/verify/api/rate-limits-and-timeouts
def twilio_verify_start(req, service):
    req.api = "start"
    err = twilio_verify_common(req, service)
    if err:
        return err
    f = req.fields
    unknown_keys(req, f, {"To", "Channel"} | TWILIO_VERIFY_OPTIONAL, "Verification")
    if "CustomCode" in f:
        req.bad("CustomCode: custom codes are not enabled on this service")
        return twilio_error(400, 60200, "Invalid parameter: CustomCode")
    to, channel = f.get("To"), f.get("Channel")
    if not to:
        req.bad("To is missing")
        return twilio_error(400, 60200, "Invalid parameter: To")
    if channel not in ("sms", "call", "whatsapp", "email", "sna", "auto"):
        req.bad("Channel is missing or not one of sms|call|email|whatsapp|sna|auto")
        return twilio_error(400, 60200, "Invalid parameter: Channel")
    if channel not in ("sms", "call"):
        req.bad("Channel %s is not a phone channel pam_otp uses (fake supports sms|call)" % channel)
        return twilio_error(400, 60200, "Invalid parameter: Channel")
    if not E164.match(to):
        req.bad("To is not E.164")
        return twilio_error(400, 60200, "Invalid parameter `To`: %s" % to[:3] + "XXXX")
    return None if req.violations else "ok"


def twilio_verify_start_ok(req):
    f = req.fields
    to, channel = f["To"], f["Channel"]
    with LOCK:
        vs = STATE["twilio_verifications"]
        v = next((v for v in vs.values() if v["to"] == to and v["status"] == "pending"
                  and v["expires"] > now()), None)
        if v is not None and len(v["attempts"]) >= 5:
            return twilio_error(429, 60203, "Max send attempts reached")
        if v is None:
            v = {"sid": sid("VE"), "to": to, "channel": channel, "status": "pending", "code": digits(6),
                 "created": now(), "expires": now() + TWILIO_VERIFY_TTL, "checks": 0, "attempts": []}
            vs[v["sid"]] = v
        v["channel"] = channel
        v["attempts"].append(sid("VL"))
        body = twilio_verification_json(v)
        code = v["code"]
    deliver("twilio-verify", "start", to, "Your verification code is: %s" % code, code)
    return Answer(201, body)


# Twilio Verify v2, check a Verification:
#   https://www.twilio.com/docs/verify/api/verification-check
#   POST .../VerificationCheck, form Code (4-10 characters) and To or VerificationSid
#   (60221 when neither, 400 https://www.twilio.com/docs/api/errors/60221) -> 200 with status
#   "approved"/valid true, or "pending"/valid false for a wrong code; 20404 when there is no
#   pending verification (approved ones are soft-deleted, expired ones too)
#   https://www.twilio.com/docs/errors/20404 ; 60202 after 5 checks (429)
#   https://www.twilio.com/docs/errors/60202
def twilio_verify_check(req, service):
    req.api = "check"
    err = twilio_verify_common(req, service)
    if err:
        return err
    f = req.fields
    unknown_keys(req, f, {"Code", "To", "VerificationSid", "Amount", "Payee", "SnaClientToken"},
                 "VerificationCheck")
    code, to, vsid = f.get("Code"), f.get("To"), f.get("VerificationSid")
    if not to and not vsid:
        req.bad("neither To nor VerificationSid")
        return twilio_error(400, 60221, "No target verification specified")
    if to and vsid:
        req.bad("both To and VerificationSid")
        return twilio_error(400, 60200, "Invalid parameter: To")
    if vsid is not None and not re.fullmatch(r"VE[0-9a-f]{32}", vsid):
        req.bad("VerificationSid is not VE + 32 hex digits")
        return twilio_error(400, 60200, "Invalid parameter: VerificationSid")
    if to is not None and not E164.match(to):
        req.bad("To is not E.164")
        return twilio_error(400, 60200, "Invalid parameter `To`: %s" % to[:3] + "XXXX")
    if code is None or not re.fullmatch(r"[A-Za-z0-9]{4,10}", code):
        req.bad("Code is missing or not 4-10 characters")
        return twilio_error(400, 60200, "Invalid parameter: Code")
    return None if req.violations else "ok"


def twilio_verify_check_ok(req):
    f = req.fields
    with LOCK:
        vs = STATE["twilio_verifications"]
        if f.get("VerificationSid"):
            v = vs.get(f["VerificationSid"])
        else:
            v = next((v for v in vs.values() if v["to"] == f["To"]
                      and v["status"] in ("pending", "max_attempts_reached")), None)
        if v is None or v["expires"] <= now() or v["status"] not in ("pending", "max_attempts_reached"):
            return twilio_error(404, 20404, "The requested resource %s was not found" % req.path[3:])
        if v["checks"] >= 5:
            v["status"] = "max_attempts_reached"
            return twilio_error(429, 60202, "Max check attempts reached")
        v["checks"] += 1
        if same(f["Code"], v["code"]):
            v["status"] = "approved"
        body = twilio_verification_json(v)
        body.pop("lookup"), body.pop("send_code_attempts"), body.pop("url")
        body["sna_attempts_error_codes"] = []
        body["sid"] = v["sid"]
    return Answer(200, body)


# ---------------------------------------------------------------- Vonage SMS API
#
# https://developer.vonage.com/en/api/sms#send-an-sms : POST https://rest.nexmo.com/sms/json,
#   api_key, api_secret, from (alphanumeric <= 11 or a number), to (E.164 without + or 00),
#   text; form or JSON body. Always HTTP 200; {"message-count", "messages": [{"to",
#   "message-id", "status": "0", "remaining-balance", "message-price", "network"}]}, or per
#   message {"status": N, "error-text"}.
# Status table: https://developer.vonage.com/messaging/sms/guides/troubleshooting-sms and
#   https://developer.vonage.com/api-errors/sms : 1 Throttled, 2 Missing Parameters, 3 Invalid
#   Parameters, 4 Invalid Credentials, 5 Internal Error, 6 Invalid Message (e.g. unrecognised
#   number prefix), 9 Partner Quota Violation (not enough credit), 15 Illegal Sender Address.

VONAGE_SMS_OPTIONAL = {"sig", "ttl", "status-report-req", "callback", "message-class", "type", "body",
                       "udh", "protocol-id", "client-ref", "account-ref", "entity-id", "content-id"}


def vonage_sms_error(status, text):
    return Answer(200, {"message-count": "1", "messages": [{"status": str(status), "error-text": text}]})


def vonage_sms(req):
    req.provider, req.api = "vonage", "sms"
    if req.method != "POST":
        req.bad("method %s, not POST" % req.method)
        return Answer(405, {"type": "about:blank", "title": "Method Not Allowed"})
    if req.media_type() == "application/json":
        f = req.json_body() or {}
    else:
        f = req.form()
    unknown_keys(req, f, {"api_key", "api_secret", "from", "to", "text"} | VONAGE_SMS_OPTIONAL, "SMS")
    for name in ("api_key", "api_secret", "from", "to", "text"):
        if f.get(name) in (None, ""):
            req.bad("%s is missing" % name)
            return vonage_sms_error(2, "Missing %s param" % name)
        if not isinstance(f.get(name), str):
            req.bad("%s is not a string" % name)
            return vonage_sms_error(3, "Invalid %s param" % name)
    v = ACCOUNTS["vonage"]
    if not (same(f["api_key"], v["api_key"]) and same(f["api_secret"], v["api_secret"])):
        req.bad("api_key/api_secret are not the account's")
        return vonage_sms_error(4, "Bad Credentials")
    if not INTL_DIGITS.match(f["to"]):
        req.bad("to is not an international number of digits without + or 00")
        return vonage_sms_error(3, "Invalid to address")
    frm = f["from"]
    if not (ALPHA_SENDER.match(frm) or re.fullmatch(r"[0-9]{1,15}", frm)):
        req.bad("from is neither an alphanumeric sender (<= 11) nor a number")
        return vonage_sms_error(15, "Illegal Sender Address - rejected")
    if f.get("type") not in (None, "text", "unicode"):
        req.bad("type is not text or unicode")
        return vonage_sms_error(3, "Invalid type param")
    return None if req.violations else "ok"


def vonage_sms_fault(fault):
    name = fault["answer"]
    if name == "bad_credentials":
        return vonage_sms_error(4, "Bad Credentials")
    if name == "invalid_number":
        return vonage_sms_error(6, "Invalid Message")
    if name == "insufficient_balance":
        return vonage_sms_error(9, "Quota Exceeded - rejected")
    if name == "rate_limited":
        return vonage_sms_error(1, "Throughput Rate Exceeded - please wait [ %d ] and retry"
                                % fault["retry_after"])
    if name == "server_error":
        return vonage_sms_error(5, "Internal Error")
    return None


def vonage_sms_ok(req):
    f = req.fields
    deliver("vonage", "sms", f["to"], f["text"], first_code(f["text"]))
    parts = 1 if len(f["text"]) <= 160 else (len(f["text"]) + 152) // 153
    return Answer(200, {"message-count": str(parts), "messages": [
        {"to": f["to"], "message-id": secrets.token_hex(8).upper(), "status": "0",
         "remaining-balance": "15.53590000", "message-price": "0.03330000", "network": "62002"}
        for _ in range(parts)]})


# ---------------------------------------------------------------- Vonage Verify v2
#
# https://developer.vonage.com/en/api/verify.v2 : POST https://api.nexmo.com/v2/verify,
#   application/json {"brand" (<= 16), "workflow": [{"channel": "sms"|"voice"|..., "to": E.164
#   without +}], optional locale, channel_timeout (15-900, default 300), client_ref, code_length
#   (4-10, default 4), code, fraud_check, template_id}; JWT (Bearer, RS256 by the application's
#   private key, claims application_id, iat, jti) or Basic (api_key:api_secret), not both.
#   202 {"request_id"} (check_url only for silent_auth). Check: POST /v2/verify/{request_id}
#   {"code"} -> 200 {"request_id", "status": "completed"}; cancel: DELETE -> 204.
# Errors (RFC 7807 problem details {type, title, detail, instance}), per the reference and
#   https://developer.vonage.com/en/api-errors : 400 Invalid Code, 401 unauthorized, 402 low
#   balance, 404 not found or verified already, 409 concurrent verifications to the same number
#   / workflow step without a code, 410 too many wrong codes (workflow terminated), 422 invalid
#   params (invalid_parameters), 429 Rate Limit Hit, 500 internal error.

VONAGE_VERIFY_TOP = {"brand", "workflow", "locale", "channel_timeout", "client_ref", "code_length",
                     "code", "fraud_check", "template_id"}
VONAGE_CHANNEL_KEYS = {"sms": {"channel", "to", "from", "app_hash", "entity_id", "content_id"},
                       "voice": {"channel", "to"}}


def problem(status, type_, title, detail, extra=None, headers=None):
    body = {"type": type_, "title": title, "detail": detail, "instance": str(uuid.uuid4())}
    body.update(extra or {})
    return Answer(status, body, headers, "application/problem+json")


def vonage_unauthorized():
    return problem(401, "https://developer.vonage.com/api-errors#unauthorized", "Unauthorized",
                   "You did not provide correct credentials.")


def vonage_invalid(req, name, reason):
    req.bad("%s: %s" % (name, reason))
    return problem(422, "https://developer.vonage.com/api-errors#invalid-params", "Invalid params",
                   "The value of one or more parameters is invalid.",
                   {"invalid_parameters": [{"name": name, "reason": reason}]})


def vonage_verify_auth(req):
    v = ACCOUNTS["vonage"]
    auth = req.headers.get("authorization", "")
    if auth.startswith("Bearer "):
        header, claims, problem_ = parse_jwt(auth[7:], PUBKEYS["vonage"])
        if problem_:
            req.bad(problem_)
            return vonage_unauthorized()
        if header.get("typ") not in (None, "JWT"):
            req.bad("JWT typ is not JWT")
        if not same(claims.get("application_id"), v["application_id"]):
            req.bad("JWT application_id is not the application's")
            return vonage_unauthorized()
        iat = claims.get("iat")
        if not isinstance(iat, int) or iat > now() + 60:
            req.bad("JWT iat is missing, not an integer or in the future")
            return vonage_unauthorized()
        if not isinstance(claims.get("jti"), str) or not claims["jti"]:
            req.bad("JWT jti is missing")
            return vonage_unauthorized()
        exp = claims.get("exp")
        if exp is not None and (not isinstance(exp, int) or exp <= now()):
            req.bad("JWT exp is not an integer in the future")
            return vonage_unauthorized()
        return None
    cred = req.basic()
    if cred is None:
        req.bad("neither Bearer JWT nor Basic authorization")
        return vonage_unauthorized()
    if not (same(cred[0], v["api_key"]) and same(cred[1], v["api_secret"])):
        req.bad("Basic credentials are not api_key:api_secret")
        return vonage_unauthorized()
    return None


def vonage_verify_start(req):
    req.provider, req.api = "vonage-verify", "start"
    if req.method != "POST":
        req.bad("method %s, not POST" % req.method)
        return problem(405, "about:blank", "Method Not Allowed", "POST /v2/verify")
    denied = vonage_verify_auth(req)
    f = req.json_body()
    if denied:
        return denied
    if f is None:
        return vonage_invalid(req, "body", "a JSON object is required")
    if req.violations:  # a repeated key
        return vonage_invalid(req, "body", "a parameter is repeated")
    extra = [k for k in f if k not in VONAGE_VERIFY_TOP]
    if extra:
        return vonage_invalid(req, extra[0], "not a parameter of a verification request")
    brand = f.get("brand")
    if not isinstance(brand, str) or not 1 <= len(brand) <= 16:
        return vonage_invalid(req, "brand", "required, 1-16 characters")
    wf = f.get("workflow")
    if not isinstance(wf, list) or not 1 <= len(wf) <= 3:
        return vonage_invalid(req, "workflow", "required, 1-3 steps")
    for i, step in enumerate(wf):
        where = "workflow[%d]" % i
        if not isinstance(step, dict) or step.get("channel") not in VONAGE_CHANNEL_KEYS:
            return vonage_invalid(req, where + ".channel", "must be sms or voice (the channels pam_otp uses)")
        extra = [k for k in step if k not in VONAGE_CHANNEL_KEYS[step["channel"]]]
        if extra:
            return vonage_invalid(req, where + "." + extra[0], "not a parameter of this channel")
        if not isinstance(step.get("to"), str) or not INTL_DIGITS.match(step["to"]):
            return vonage_invalid(req, where + ".to", "must be an E.164 number without +")
    tos = {s["to"] for s in wf}
    if len(tos) != 1:
        return vonage_invalid(req, "workflow", "every step must go to the same number")
    cl = f.get("code_length", 4)
    if not isinstance(cl, int) or isinstance(cl, bool) or not 4 <= cl <= 10:
        return vonage_invalid(req, "code_length", "integer 4-10")
    ct = f.get("channel_timeout", 300)
    if not isinstance(ct, int) or isinstance(ct, bool) or not 15 <= ct <= 900:
        return vonage_invalid(req, "channel_timeout", "integer 15-900")
    if "locale" in f and not (isinstance(f["locale"], str) and re.fullmatch(r"[a-z]{2}-[a-z]{2}", f["locale"])):
        return vonage_invalid(req, "locale", "a locale such as en-us")
    if "client_ref" in f and not (isinstance(f["client_ref"], str) and len(f["client_ref"]) <= 16):
        return vonage_invalid(req, "client_ref", "string up to 16 characters")
    if "code" in f:
        return vonage_invalid(req, "code", "custom codes are not what pam_otp uses here")
    if "fraud_check" in f and not isinstance(f["fraud_check"], bool):
        return vonage_invalid(req, "fraud_check", "boolean")
    return "ok"


def vonage_verify_fault(fault, req):
    name = fault["answer"]
    if name == "bad_credentials":
        return vonage_unauthorized()
    if name == "invalid_number":
        return problem(422, "https://developer.vonage.com/api-errors#invalid-params", "Invalid params",
                       "The value of one or more parameters is invalid.",
                       {"invalid_parameters": [{"name": "workflow[0].to", "reason": "Invalid phone number"}]})
    if name == "insufficient_balance":
        return problem(402, "https://developer.vonage.com/api-errors/#low-balance", "Low balance",
                       "This request could not be performed due to your account balance being low.")
    if name == "rate_limited":
        return problem(429, "https://www.developer.vonage.com/api-errors#throttled", "Rate Limit Hit",
                       "Please wait, then retry your request", None,
                       {"Retry-After": str(fault["retry_after"])})
    if name == "server_error":
        return problem(500, "https://developer.vonage.com/api-errors#internal-error", "Internal Error",
                       "Something went wrong.")
    return None


def vonage_verify_start_ok(req):
    f = req.fields
    to = f["workflow"][0]["to"]
    with LOCK:
        rs = STATE["vonage_requests"]
        pending = next((r for r in rs.values() if r["to"] == to and r["state"] == "pending"
                        and r["expires"] > now()), None)
        if pending:
            return problem(409, "https://developer.vonage.com/api-errors/verify#conflict", "Conflict",
                           "Concurrent verifications to the same number are not allowed.",
                           {"request_id": pending["id"]})
        r = {"id": str(uuid.uuid4()), "to": to, "code": digits(f.get("code_length", 4)), "state": "pending",
             "wrong": 0,
             "expires": now() + f.get("channel_timeout", 300) * len(f["workflow"])}
        rs[r["id"]] = r
    deliver("vonage-verify", "start", to, "Your %s verification code is: %s" % (f["brand"], r["code"]), r["code"])
    return Answer(202, {"request_id": r["id"]})


def vonage_verify_check(req, request_id):
    req.provider, req.api = "vonage-verify", "check"
    if req.method not in ("POST", "DELETE"):
        req.bad("method %s, not POST (check) or DELETE (cancel)" % req.method)
        return problem(405, "about:blank", "Method Not Allowed", "POST /v2/verify/{request_id}")
    denied = vonage_verify_auth(req)
    if req.method == "DELETE":
        req.api = "cancel"
        if req.raw:
            req.bad("cancel has no body")
        return denied or "ok"
    f = req.json_body()
    if denied:
        return denied
    if f is None:
        return vonage_invalid(req, "body", "a JSON object is required")
    if set(f) != {"code"}:
        return vonage_invalid(req, "code", "the body is exactly {\"code\"}")
    if not isinstance(f["code"], str) or not re.fullmatch(r"[A-Za-z0-9]{4,10}", f["code"]):
        return vonage_invalid(req, "code", "string of 4-10 characters")
    return None if req.violations else "ok"


def vonage_not_found(request_id):
    return problem(404, "https://developer.vonage.com/api-errors#not-found", "Not Found",
                   "Request '%s' was not found or it has been verified already." % request_id)


def vonage_verify_check_ok(req, request_id):
    with LOCK:
        r = STATE["vonage_requests"].get(request_id)
        if r is None or r["state"] == "completed" or r["expires"] <= now() or r["state"] == "cancelled":
            return vonage_not_found(request_id)
        if req.method == "DELETE":
            r["state"] = "cancelled"
            return Answer(204)
        if r["state"] == "terminated":
            return problem(410, "https://developer.vonage.com/api-errors/verify#expired", "Invalid Code",
                           "An incorrect code has been provided too many times. Workflow terminated.")
        if same(req.fields["code"], r["code"]):
            r["state"] = "completed"
            return Answer(200, {"request_id": request_id, "status": "completed"})
        r["wrong"] += 1
        if r["wrong"] >= 3:
            r["state"] = "terminated"
            return problem(410, "https://developer.vonage.com/api-errors/verify#expired", "Invalid Code",
                           "An incorrect code has been provided too many times. Workflow terminated.")
        return problem(400, "https://developer.vonage.com/api-errors/verify#invalid-code", "Invalid Code",
                       "The code you provided does not match the expected value.")


# ---------------------------------------------------------------- Arkesel SMS v2
#
# https://developers.arkesel.com/#tag/SMS-V2 (send SMS): POST https://sms.arkesel.com/api/v2/sms/send,
#   header api-key, JSON {"sender" (<= 11 characters), "message", "recipients": ["233..."]},
#   optional sandbox (no delivery), scheduled_date, callback_url, use_case (promotional |
#   transactional, for Nigeria). 200 {"status": "success", "data": [{"recipient", "id"}]}.
#   Errors as {"status": "error", "message"} (invalid recipients with data {"invalid numbers"}):
#   401 invalid API key, 402 insufficient balance, 422 validation, 429 Laravel throttle
#   ("Too Many Attempts.", Retry-After), 500 server error. NOTE: the stored corpus had no copy of
#   Arkesel's reference; the error bodies follow Arkesel client code in public repositories.

ARKESEL_SMS_KEYS = {"sender", "message", "recipients", "sandbox", "scheduled_date", "callback_url",
                    "use_case"}


def arkesel_error(status, message, extra=None, headers=None):
    body = {"status": "error", "message": message}
    body.update(extra or {})
    return Answer(status, body, headers)


def arkesel_key(req):
    key = req.headers.get("api-key")
    if key is None:
        req.bad("no api-key header")
        return False
    if not same(key, ACCOUNTS["arkesel"]["api_key"]):
        req.bad("api-key is not the account's")
        return False
    return True


def arkesel_sms(req):
    req.provider, req.api = "arkesel", "sms"
    if req.method != "POST":
        req.bad("method %s, not POST" % req.method)
        return arkesel_error(405, "Method not allowed")
    keyed = arkesel_key(req)
    f = req.json_body()
    if not keyed:
        return arkesel_error(401, "Invalid API key")
    if f is None:
        return arkesel_error(422, "The given data was invalid.")
    if unknown_keys(req, f, ARKESEL_SMS_KEYS, "SMS"):
        return arkesel_error(422, "The given data was invalid.")
    s, m, r = f.get("sender"), f.get("message"), f.get("recipients")
    if not isinstance(s, str) or not s:
        req.bad("sender is missing")
        return arkesel_error(422, "The sender field is required.")
    if len(s) > 11:
        req.bad("sender is longer than 11 characters")
        return arkesel_error(422, "The sender may not be greater than 11 characters.")
    if not isinstance(m, str) or not m:
        req.bad("message is missing")
        return arkesel_error(422, "The message field is required.")
    if not isinstance(r, list) or not r:
        req.bad("recipients is missing or not a non-empty list")
        return arkesel_error(422, "The recipients field is required.")
    bad = [x for x in r if not isinstance(x, str) or not INTL_DIGITS.match(x)]
    if bad:
        req.bad("recipients are not international numbers of digits (233...)")
        return arkesel_error(422, "Invalid phone number(s)", {"data": {"invalid numbers": [str(x) for x in bad]}})
    if "sandbox" in f and not isinstance(f["sandbox"], bool):
        req.bad("sandbox is not a boolean")
        return arkesel_error(422, "The sandbox field must be true or false.")
    if "callback_url" in f and not (isinstance(f["callback_url"], str) and f["callback_url"].startswith(("http://", "https://"))):
        req.bad("callback_url is not a URL")
        return arkesel_error(422, "The callback url format is invalid.")
    if "use_case" in f and f["use_case"] not in ("promotional", "transactional"):
        req.bad("use_case is not promotional or transactional")
        return arkesel_error(422, "The selected use case is invalid.")
    return "ok"


def arkesel_fault(fault, otp, api):
    name = fault["answer"]
    if otp:
        if name == "bad_credentials":
            return Answer(401, {"code": "1004", "message": "SMS gateway not active or credential not found"})
        if name == "invalid_number":
            return Answer(422, {"code": "1005" if api == "generate" else "1102", "message": "Invalid phone number"})
        if name == "insufficient_balance":
            return Answer(402, {"code": "1007", "message": "Insufficient balance"})
        if name == "rate_limited":
            return Answer(429, {"message": "Too Many Attempts."}, {"Retry-After": str(fault["retry_after"])})
        if name == "server_error":
            return Answer(500, {"code": "1011" if api == "generate" else "1106", "message": "Internal error"})
        return None
    if name == "bad_credentials":
        return arkesel_error(401, "Invalid API key")
    if name == "invalid_number":
        return arkesel_error(422, "Invalid phone number(s)", {"data": {"invalid numbers": []}})
    if name == "insufficient_balance":
        return arkesel_error(402, "Insufficient balance")
    if name == "rate_limited":
        return arkesel_error(429, "Too Many Attempts.", None, {"Retry-After": str(fault["retry_after"])})
    if name == "server_error":
        return arkesel_error(500, "Server Error")
    return None


def arkesel_sms_ok(req):
    f = req.fields
    data = []
    for r in f["recipients"]:
        data.append({"recipient": r, "id": str(uuid.uuid4())})
        if not f.get("sandbox"):
            deliver("arkesel", "sms", r, f["message"], first_code(f["message"]))
    return Answer(200, {"status": "success", "data": data})


# ---------------------------------------------------------------- Arkesel OTP
#
# https://developers.arkesel.com/#tag/OTP : POST https://sms.arkesel.com/api/otp/generate, header
#   api-key, JSON {expiry (minutes), length (6-15), medium (sms|voice), message (with
#   %otp_code%, may use %expiry%), number (233...), sender_id (<= 11), type (numeric |
#   alphanumeric)} -> {"code": "1000", "ussd_code", "message": "Successful, MESSAGE DELIVERED"};
#   1001 validation error (missing field), 1002 message without %otp_code%, 1003 sender ID
#   blocked, 1004 gateway not active / credential not found, 1005 invalid phone number, 1006
#   OTP not allowed in the country, 1007/1008 insufficient balance, 1009 voice message over 500
#   characters, 1011 internal error.
#   POST /api/otp/verify {code, number} -> {"code": "1100", "message": "Successful"}; 1101
#   validation error, 1102/1103 invalid phone number (1103: no OTP for this number), 1104
#   invalid code, 1105 code has expired, 1106 internal error. Codes and texts as listed by
#   Arkesel's reference (copied into public client code; the corpus had no copy of the page).

ARKESEL_OTP_KEYS = {"expiry", "length", "medium", "message", "number", "sender_id", "type"}


def _int_field(v):
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, str) and re.fullmatch(r"[0-9]{1,4}", v):
        return int(v)
    return None


def arkesel_otp_generate(req):
    req.provider, req.api = "arkesel-otp", "generate"
    if req.method != "POST":
        req.bad("method %s, not POST" % req.method)
        return Answer(405, {"message": "Method not allowed"})
    keyed = arkesel_key(req)
    f = req.json_body()
    if not keyed:
        return Answer(401, {"code": "1004", "message": "SMS gateway not active or credential not found"})
    if f is None:
        return Answer(422, {"code": "1001", "message": "Validation error (Missing required field)"})
    unknown_keys(req, f, ARKESEL_OTP_KEYS, "OTP generate")
    missing = [k for k in sorted(ARKESEL_OTP_KEYS) if f.get(k) in (None, "")]
    if missing:
        req.bad("missing fields: %s" % ", ".join(missing))
    if req.violations:
        return Answer(422, {"code": "1001", "message": "Validation error (Missing required field)"})
    expiry, length = _int_field(f["expiry"]), _int_field(f["length"])
    if expiry is None or not 1 <= expiry <= 10:
        req.bad("expiry is not a number of minutes 1-10")
        return Answer(422, {"code": "1001", "message": "Validation error (expiry)"})
    if length is None or not 6 <= length <= 15:
        req.bad("length is not 6-15")
        return Answer(422, {"code": "1001", "message": "Validation error (length)"})
    if f["medium"] not in ("sms", "voice"):
        req.bad("medium is not sms or voice")
        return Answer(422, {"code": "1001", "message": "Validation error (medium)"})
    if f["type"] not in ("numeric", "alphanumeric"):
        req.bad("type is not numeric or alphanumeric")
        return Answer(422, {"code": "1001", "message": "Validation error (type)"})
    if not isinstance(f["sender_id"], str) or len(f["sender_id"]) > 11:
        req.bad("sender_id is longer than 11 characters")
        return Answer(422, {"code": "1001", "message": "Validation error (sender_id)"})
    if not isinstance(f["message"], str) or "%otp_code%" not in f["message"]:
        req.bad("message has no %otp_code% slot")
        return Answer(422, {"code": "1002", "message": "Message must contain a slot for otp code, like %otp_code%"})
    if f["medium"] == "voice" and len(f["message"]) > 500:
        req.bad("voice message longer than 500 characters")
        return Answer(422, {"code": "1009", "message": "You can not send more than 500 characters using voice medium"})
    if not isinstance(f["number"], str) or not INTL_DIGITS.match(f["number"]):
        req.bad("number is not an international number of digits (233...)")
        return Answer(422, {"code": "1005", "message": "Invalid phone number"})
    return "ok"


def arkesel_otp_generate_ok(req):
    f = req.fields
    length, expiry = _int_field(f["length"]), _int_field(f["expiry"])
    if f["type"] == "numeric":
        code = digits(length)
    else:
        code = "".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(length))
    with LOCK:
        STATE["arkesel_otps"][f["number"]] = {"code": code, "expires": now() + 60 * expiry}
    text = f["message"].replace("%otp_code%", code).replace("%expiry%", str(expiry))
    deliver("arkesel-otp", "generate", f["number"], text, code)
    return Answer(200, {"code": "1000", "ussd_code": "*928*01#", "message": "Successful, MESSAGE DELIVERED"})


def arkesel_otp_verify(req):
    req.provider, req.api = "arkesel-otp", "verify"
    if req.method != "POST":
        req.bad("method %s, not POST" % req.method)
        return Answer(405, {"message": "Method not allowed"})
    keyed = arkesel_key(req)
    f = req.json_body()
    if not keyed:
        return Answer(401, {"code": "1004", "message": "SMS gateway not active or credential not found"})
    if f is None or unknown_keys(req, f, {"code", "number"}, "OTP verify") or not f.get("code") or not f.get("number"):
        if f is not None and (not f.get("code") or not f.get("number")):
            req.bad("code or number is missing")
        return Answer(422, {"code": "1101", "message": "Validation error (Missing required field)"})
    if not isinstance(f["number"], str) or not INTL_DIGITS.match(f["number"]):
        req.bad("number is not an international number of digits (233...)")
        return Answer(422, {"code": "1102", "message": "Invalid phone number"})
    if not isinstance(f["code"], str) or not re.fullmatch(r"[A-Za-z0-9]{4,15}", f["code"]):
        req.bad("code is not a string of 4-15 characters")
        return Answer(422, {"code": "1101", "message": "Validation error (code)"})
    return "ok"


def arkesel_otp_verify_ok(req):
    f = req.fields
    with LOCK:
        otp = STATE["arkesel_otps"].get(f["number"])
        if otp is None:
            return Answer(400, {"code": "1103", "message": "Invalid phone number"})
        if otp["expires"] <= now():
            del STATE["arkesel_otps"][f["number"]]
            return Answer(400, {"code": "1105", "message": "Code has expired"})
        if not same(f["code"], otp["code"]):
            return Answer(400, {"code": "1104", "message": "Invalid code"})
        del STATE["arkesel_otps"][f["number"]]
    return Answer(200, {"code": "1100", "message": "Successful"})


# ---------------------------------------------------------------- Google OAuth 2.0 + FCM HTTP v1
#
# Service-account token: https://developers.google.com/identity/protocols/oauth2/service-account#authorizingrequests
#   POST token_uri, form grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer & assertion =
#   RS256 JWT {header alg RS256, kid = private_key_id; claims iss = client_email, scope (space-
#   separated), aud = token_uri, iat, exp <= iat + 3600} -> {"access_token", "expires_in": 3599,
#   "token_type": "Bearer"}; errors 400 {"error", "error_description"}: invalid_grant ("Invalid
#   JWT Signature.", "Invalid JWT: Token must be a short-lived token (60 minutes) and in a
#   reasonable timeframe...", "Invalid grant: account not found"), invalid_scope,
#   unsupported_grant_type, invalid_request (RFC 6749 5.2).
# FCM send: https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages/send and
#   https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages (Message: exactly one
#   of token/topic/condition; data map string->string; notification {title, body, image}),
#   Bearer access token with scope firebase.messaging -> 200 {"name":
#   "projects/{id}/messages/{id}"}. Errors google.rpc.Status {"error": {code, message, status,
#   details: [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", errorCode}]}}:
#   https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode and
#   https://firebase.google.com/docs/cloud-messaging/error-codes : INVALID_ARGUMENT 400,
#   UNREGISTERED 404, SENDER_ID_MISMATCH 403, QUOTA_EXCEEDED 429, UNAVAILABLE 503, INTERNAL 500,
#   THIRD_PARTY_AUTH_ERROR 401; a bad OAuth token: 401 UNAUTHENTICATED.

FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
FCM_MESSAGE_KEYS = {"name", "data", "notification", "android", "webpush", "apns", "fcm_options", "token",
                    "topic", "condition"}


def oauth_error(req, error, description):
    req.bad("%s: %s" % (error, description))
    return Answer(400, {"error": error, "error_description": description})


def fcm_token(req):
    req.provider, req.api = "fcm", "token"
    if req.method != "POST":
        req.bad("method %s, not POST" % req.method)
        return Answer(405, {"error": "invalid_request", "error_description": "Method not allowed"})
    f = req.form()
    if req.violations and not f:
        return Answer(400, {"error": "invalid_request", "error_description": "Bad Request"})
    unknown_keys(req, f, {"grant_type", "assertion"}, "token request")
    if f.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
        return oauth_error(req, "unsupported_grant_type", "Invalid grant_type: %s" % f.get("grant_type", ""))
    if not f.get("assertion"):
        return oauth_error(req, "invalid_request", "Missing required parameter: assertion")
    a = ACCOUNTS["fcm"]
    header, claims, problem_ = parse_jwt(f["assertion"], PUBKEYS["fcm"])
    if problem_:
        return oauth_error(req, "invalid_grant", "Invalid JWT Signature." if "signature" in problem_
                           else "Invalid JWT: " + problem_)
    if not same(header.get("kid"), a["private_key_id"]):
        return oauth_error(req, "invalid_grant", "Invalid JWT Signature.")  # kid names the key
    if not same(claims.get("iss"), a["client_email"]):
        return oauth_error(req, "invalid_grant", "Invalid grant: account not found")
    token_uri = "https://127.0.0.1:%d/token" % ARGS.bound_port
    if claims.get("aud") != token_uri:
        return oauth_error(req, "invalid_grant", "Invalid JWT: aud is not the token URI")
    iat, exp = claims.get("iat"), claims.get("exp")
    if (not isinstance(iat, int) or not isinstance(exp, int) or exp - iat > 3600 or exp <= iat
            or iat > now() + 60 or exp <= now()):
        return oauth_error(req, "invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) "
                           "and in a reasonable timeframe. Check your iat and exp values in the JWT claim.")
    scope = claims.get("scope")
    if not isinstance(scope, str) or FCM_SCOPE not in scope.split(" "):
        return oauth_error(req, "invalid_scope", "The requested scope is missing or not %s." % FCM_SCOPE)
    extra = [k for k in claims if k not in ("iss", "scope", "aud", "iat", "exp", "sub")]
    if extra:
        req.bad("assertion has undocumented claims: %s" % ", ".join(extra))
    token = "ya29.fake-" + secrets.token_urlsafe(32)
    with LOCK:
        STATE["fcm_tokens"][token] = now() + 3599
    return Answer(200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"})


def fcm_error(code, status, message, error_code=None, headers=None, details=None):
    err = {"code": code, "message": message, "status": status}
    if error_code:
        err["details"] = [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                           "errorCode": error_code}]
    if details:
        err.setdefault("details", []).extend(details)
    return Answer(code, {"error": err}, headers)


def fcm_invalid(req, field, description):
    req.bad("%s: %s" % (field, description))
    return fcm_error(400, "INVALID_ARGUMENT", description, "INVALID_ARGUMENT",
                     details=[{"@type": "type.googleapis.com/google.rpc.BadRequest",
                               "fieldViolations": [{"field": field, "description": description}]}])


def fcm_send(req, project):
    req.provider, req.api = "fcm", "send"
    if req.method != "POST":
        req.bad("method %s, not POST" % req.method)
        return fcm_error(405, "INVALID_ARGUMENT", "Method not allowed")
    token = req.bearer()
    with LOCK:
        ok = token is not None and STATE["fcm_tokens"].get(token, 0) > now()
    f = req.json_body()
    if not ok:
        req.bad("Authorization is not a Bearer access token the token endpoint issued (or it expired)")
        return fcm_error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials. Expected "
                         "OAuth 2 access token, login cookie or other valid authentication credential.")
    if project != ACCOUNTS["fcm"]["project_id"]:
        req.bad("project in the path is not the service account's project")
        return fcm_error(403, "PERMISSION_DENIED", "Permission 'cloudmessaging.messages.create' denied on "
                         "resource '//cloudresourcemanager.googleapis.com/projects/%s' (or it may not exist)." % project)
    if f is None:
        return fcm_invalid(req, "", "Invalid JSON payload received.")
    extra = [k for k in f if k not in ("message", "validate_only")]
    if extra:
        return fcm_invalid(req, extra[0], "Invalid JSON payload received. Unknown name \"%s\": Cannot find field." % extra[0])
    if "validate_only" in f and not isinstance(f["validate_only"], bool):
        return fcm_invalid(req, "validate_only", "Invalid value at 'validate_only' (TYPE_BOOL)")
    m = f.get("message")
    if not isinstance(m, dict):
        return fcm_invalid(req, "message", "Request contains an invalid argument.")
    extra = [k for k in m if k not in FCM_MESSAGE_KEYS]
    if extra:
        return fcm_invalid(req, "message." + extra[0], "Invalid JSON payload received. Unknown name \"%s\" at "
                           "'message': Cannot find field." % extra[0])
    targets = [k for k in ("token", "topic", "condition") if k in m]
    if targets != ["token"]:
        return fcm_invalid(req, "message", "exactly one of token, topic, condition; pam_otp sends to a token")
    if not isinstance(m["token"], str) or not FCM_TOKEN.match(m["token"]):
        req.bad("message.token is not a registration token")
        return fcm_error(400, "INVALID_ARGUMENT", "The registration token is not a valid FCM registration token",
                         "INVALID_ARGUMENT")
    data = m.get("data", {})
    if not isinstance(data, dict):
        return fcm_invalid(req, "message.data", "Invalid value at 'message.data' (map)")
    for i, (k, v) in enumerate(data.items()):
        if not isinstance(v, str):
            return fcm_invalid(req, "message.data[%d].value" % i,
                               "Invalid value at 'message.data[%d].value' (TYPE_STRING), %s" % (i, json.dumps(v)))
        if k in ("from", "notification", "message_type") or k.startswith(("google", "gcm")):
            return fcm_invalid(req, "message.data", "Invalid data key: %s (reserved)" % k)
    n = m.get("notification", {})
    if not isinstance(n, dict) or any(k not in ("title", "body", "image") or not isinstance(v, str)
                                      for k, v in n.items()):
        return fcm_invalid(req, "message.notification", "notification holds only the strings title, body, image")
    for k in ("android", "apns", "webpush", "fcm_options"):
        if k in m and not isinstance(m[k], dict):
            return fcm_invalid(req, "message." + k, "Invalid value at 'message.%s' (object)" % k)
    if len(json.dumps({"data": data, "notification": n}).encode()) > 4096:
        return fcm_invalid(req, "message", "Message is too big")
    return None if req.violations else "ok"


def fcm_fault(fault):
    name = fault["answer"]
    if name == "bad_credentials":
        return fcm_error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials. Expected "
                         "OAuth 2 access token, login cookie or other valid authentication credential.")
    if name == "invalid_number":
        return fcm_error(400, "INVALID_ARGUMENT", "The registration token is not a valid FCM registration token",
                         "INVALID_ARGUMENT")
    if name == "unregistered":
        return fcm_error(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED")
    if name == "sender_id_mismatch":
        return fcm_error(403, "PERMISSION_DENIED", "SenderId mismatch", "SENDER_ID_MISMATCH")
    if name == "third_party_auth_error":
        return fcm_error(401, "UNAUTHENTICATED", "Auth error from APNS or Web Push Service",
                         "THIRD_PARTY_AUTH_ERROR")
    if name == "rate_limited":
        return fcm_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded for quota metric 'Send requests'",
                         "QUOTA_EXCEEDED", {"Retry-After": str(fault["retry_after"])})
    if name == "server_error":
        return fcm_error(503, "UNAVAILABLE", "The service is currently unavailable.", "UNAVAILABLE")
    if name == "internal":
        return fcm_error(500, "INTERNAL", "Internal error encountered.", "INTERNAL")
    return None


def fcm_send_ok(req, project):
    f = req.fields
    m = f["message"]
    payload = {k: m[k] for k in ("notification", "data") if k in m}
    text = json.dumps(payload, sort_keys=True)
    if f.get("validate_only"):
        return Answer(200, {"name": "projects/%s/messages/fake_message_id" % project})
    strings = [v for v in list(m.get("notification", {}).values()) + list(m.get("data", {}).values())]
    code = next((c for c in (first_code(s) for s in strings) if c), None)
    deliver("fcm", "send", m["token"], text, code)
    return Answer(200, {"name": "projects/%s/messages/0:%d%%%s" % (project, int(now() * 1000), secrets.token_hex(8))})


# ---------------------------------------------------------------- routing


def route(req):
    """(provider, validate(req) -> Answer | "ok" | None, fault(fault) -> Answer, ok(req) -> Answer)."""
    p = req.path
    m = re.fullmatch(r"/2010-04-01/Accounts/([^/]+)/Messages\.json", p)
    if m:
        return ("twilio", lambda r: twilio_messages(r, m.group(1)),
                lambda fl: twilio_fault(fl, False), twilio_messages_ok)
    m = re.fullmatch(r"/v2/Services/([^/]+)/(Verifications|VerificationCheck)", p)
    if m:
        if m.group(2) == "Verifications":
            return ("twilio-verify", lambda r: twilio_verify_start(r, m.group(1)),
                    lambda fl: twilio_fault(fl, True), twilio_verify_start_ok)
        return ("twilio-verify", lambda r: twilio_verify_check(r, m.group(1)),
                lambda fl: twilio_fault(fl, True), twilio_verify_check_ok)
    if p == "/sms/json":
        return "vonage", vonage_sms, vonage_sms_fault, vonage_sms_ok
    if p in ("/v2/verify", "/v2/verify/"):
        return "vonage-verify", vonage_verify_start, lambda fl: vonage_verify_fault(fl, req), vonage_verify_start_ok
    m = re.fullmatch(r"/v2/verify/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})", p)
    if m:
        return ("vonage-verify", lambda r: vonage_verify_check(r, m.group(1)),
                lambda fl: vonage_verify_fault(fl, req), lambda r: vonage_verify_check_ok(r, m.group(1)))
    if p == "/api/v2/sms/send":
        return "arkesel", arkesel_sms, lambda fl: arkesel_fault(fl, False, "sms"), arkesel_sms_ok
    if p == "/api/otp/generate":
        return ("arkesel-otp", arkesel_otp_generate, lambda fl: arkesel_fault(fl, True, "generate"),
                arkesel_otp_generate_ok)
    if p == "/api/otp/verify":
        return ("arkesel-otp", arkesel_otp_verify, lambda fl: arkesel_fault(fl, True, "verify"),
                arkesel_otp_verify_ok)
    if p == "/token":
        return "fcm", fcm_token, None, None
    m = re.fullmatch(r"/v1/projects/([^/]+)/messages:send", p)
    if m:
        return ("fcm", lambda r: fcm_send(r, m.group(1)), fcm_fault,
                lambda r: fcm_send_ok(r, m.group(1)))
    return None


def handle(req):
    """The answer (Answer or DROP) to a provider request; req.violations filled in."""
    r = route(req)
    if r is None:
        req.bad("no provider endpoint at %s %s" % (req.method, req.path))
        return Answer(404, {"error": "not found"})
    provider, validate, fault_answer, ok = r
    req.provider = provider
    result = validate(req)
    if isinstance(result, Answer):
        return result
    if ok is None:  # /token: validate answered
        return result
    if fault_answer is not None:
        fault = take_fault(provider)
        if fault:
            if fault["answer"] == "drop":
                return DROP
            if fault["answer"] == "slow":
                time.sleep(fault["delay_ms"] / 1000.0)
            else:
                return fault_answer(fault)
    return ok(req)


def control(handler, method, path, body):
    if method == "GET" and path == "/_fake/requests":
        return 200, read_records("requests.jsonl")
    if method == "GET" and path == "/_fake/delivered":
        return 200, read_records("delivered.jsonl")
    if method == "POST" and path == "/_fake/reset":
        with LOCK:
            STATE["faults"].clear()
        return 200, {"ok": True}
    if method == "POST" and path == "/_fake/next":
        try:
            spec = json.loads(body or b"{}")
        except ValueError:
            return 400, {"error": "body is not JSON"}
        if not isinstance(spec, dict):
            return 400, {"error": "body is not a JSON object"}
        extra = [k for k in spec if k not in ("provider", "answer", "times", "retry_after", "delay_ms")]
        provider, answer = spec.get("provider"), spec.get("answer")
        times, retry_after, delay_ms = spec.get("times", 1), spec.get("retry_after", 30), spec.get("delay_ms", 0)
        if extra:
            return 400, {"error": "unknown keys: %s" % ", ".join(extra)}
        if provider not in PROVIDERS:
            return 400, {"error": "provider must be one of %s" % ", ".join(PROVIDERS)}
        if answer not in FAULTS[provider]:
            return 400, {"error": "answer for %s must be one of %s" % (provider, ", ".join(FAULTS[provider]))}
        for name, v in (("times", times), ("retry_after", retry_after), ("delay_ms", delay_ms)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                return 400, {"error": "%s must be a non-negative integer" % name}
        if times < 1:
            return 400, {"error": "times must be at least 1"}
        if answer == "slow" and delay_ms <= 0:
            return 400, {"error": "slow needs delay_ms > 0"}
        with LOCK:
            STATE["faults"].setdefault(provider, []).append(
                {"answer": answer, "times": times, "retry_after": retry_after, "delay_ms": delay_ms})
        return 200, {"ok": True}
    return 404, {"error": "unknown control endpoint"}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-providers"
    sys_version = ""

    def log_message(self, *args):
        pass  # never log: requests carry credentials and codes

    def setup(self):
        self.request.do_handshake()
        super().setup()

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def do_PATCH(self):
        self.dispatch("PATCH")

    def send(self, status, body, headers=None, ctype="application/json"):
        data = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        self.send_response(status)
        if status != 204:
            self.send_header("Content-Type", ctype + ("; charset=utf-8" if ctype.endswith("json") else ""))
            self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if status != 204:
            self.wfile.write(data)

    def dispatch(self, method):
        url = urlsplit(self.path)
        te = self.headers.get("Transfer-Encoding")
        length = self.headers.get("Content-Length")
        violations = []
        if te:
            violations.append("Transfer-Encoding %s (the fake reads Content-Length bodies only)" % te)
            body = b""
            self.close_connection = True
        else:
            try:
                body = self.rfile.read(int(length)) if length else b""
            except ValueError:
                body = b""
                violations.append("Content-Length is not a number")
        if url.path.startswith("/_fake/"):
            status, answer = control(self, method, url.path, body)
            return self.send(status, answer)
        headers = {}
        for k, v in self.headers.items():
            headers[k.lower()] = v
        req = Req(method, url.path, url.query, headers, body)
        req.violations.extend(violations)
        if method == "POST" and length is None and not te:
            req.bad("POST without Content-Length")
        try:
            answer = handle(req)
        except Exception as e:  # a bug in the fake must show up as a violation, not hang a test
            req.bad("fake internal error: %s" % type(e).__name__)
            answer = Answer(500, {"error": "fake internal error"})
        record = {"provider": req.provider, "api": req.api, "method": method, "path": req.path,
                  "query": req.query, "headers": headers, "body": req.text, "fields": req.fields,
                  "violations": req.violations, "status": None if answer is DROP else answer.status}
        append("requests.jsonl", record)
        if answer is DROP:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self.send(answer.status, answer.body, answer.headers, answer.ctype)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass  # failed TLS handshakes, clients gone away: nothing to log


def main():
    global ARGS, ACCOUNTS
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--accounts", required=True)
    ap.add_argument("--record", required=True)
    ap.add_argument("--port", type=int, default=0)
    ARGS = ap.parse_args()
    with open(ARGS.accounts) as f:
        ACCOUNTS = json.load(f)
    PUBKEYS["vonage"] = load_rsa_public(ACCOUNTS["vonage"]["public_key_file"])
    PUBKEYS["fcm"] = load_rsa_public(ACCOUNTS["fcm"]["public_key_file"])
    os.makedirs(ARGS.record, exist_ok=True)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(ARGS.cert, ARGS.key)

    class TLSServer(Server):
        def get_request(self):
            # The handshake runs in the request's own thread (Handler.setup), so that one slow or
            # broken client never holds up the accept loop.
            sock, addr = self.socket.accept()
            sock.settimeout(30)
            # Headers and body go out in two writes; without this, Nagle holds the second
            # until the client's delayed ACK (about 40 ms on Linux) on every answer.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

    server = TLSServer(("127.0.0.1", ARGS.port), Handler)
    ARGS.bound_port = server.server_address[1]
    print("listening %d" % ARGS.bound_port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
