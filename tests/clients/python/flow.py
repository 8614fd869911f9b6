"""The phone flow of ZITADEL's user service v2, driven with ZITADEL's official Python SDK (`zitadel-client`).

Run by tests/official_clients.rs against the real phoneverify binary. The SDK speaks Connect unary with JSON
(POST /zitadel.user.v2.UserService/<Method>). It signs in the way PV_AUTH names: `Zitadel.with_access_token`
(a personal access token or a `phoneverify token`, sent as a plain bearer token), `with_client_credentials`
(a machine user's client secret, exchanged at the token endpoint found through
/.well-known/openid-configuration) or `with_private_key` (a machine key file, whose key signs a JWT-profile
assertion).

Environment:
  PV_URL       the server, e.g. http://127.0.0.1:8080
  PV_AUTH      token (default), client_credentials or private_key
  PV_TOKEN     with token: the bearer token (a PAT or a `phoneverify token`) of a caller with user.write in
               PV_ORG_ID
  PV_CLIENT_ID, PV_CLIENT_SECRET   with client_credentials: a machine user's ID and secret
  PV_KEY_FILE  with private_key: the path of a machine user's key file
  PV_ORG_ID    the organization the user is created in
  PV_NAME      a name for this run, unique per server (usernames are made from it)
  PV_PHONE_A   two valid numbers in E.164 that no other run uses
  PV_PHONE_B
  PV_SMS_URL   the test's SMS gateway: GET {PV_SMS_URL}/codes/<digits of the number> lists the codes it received

Prints one line per check; exits 0 when every check passed, 1 with the reason otherwise.
"""

import base64
import json
import os
import sys
import time
import traceback
import urllib.request

from zitadel_client import ApiError, Zitadel
from zitadel_client.models import (
    UserServiceAddHumanUserRequest,
    UserServiceGetUserByIDRequest,
    UserServiceOrganization,
    UserServiceRemovePhoneRequest,
    UserServiceResendPhoneCodeRequest,
    UserServiceSetHumanEmail,
    UserServiceSetHumanPhone,
    UserServiceSetHumanProfile,
    UserServiceSetPhoneRequest,
    UserServiceVerifyPhoneRequest,
)

# An id no user has: the resend must answer NotFound.
UNKNOWN_USER_ID = "100000000000000001"


def env(name):
    value = os.environ.get(name, "")
    if not value:
        raise SystemExit(f"environment variable {name} is not set")
    return value


def check(condition, what, got=None):
    if not condition:
        raise AssertionError(what if got is None else f"{what}; got {got!r}")
    print(f"ok   {what}", flush=True)


def sms_codes(phone):
    """The codes the gateway received for `phone`, oldest first."""
    url = f"{env('PV_SMS_URL')}/codes/{phone.lstrip('+')}"
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)["codes"]


def wait_for_sms(phone, seen):
    """Waits until the gateway holds more than `seen` codes for `phone`; returns the newest."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        codes = sms_codes(phone)
        if len(codes) > seen:
            return codes[-1]
        time.sleep(0.1)
    raise AssertionError(f"no SMS to {phone} within 20 s (still {seen} codes at the gateway)")


def read_varint(data, pos):
    value, shift = 0, 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def decode_error_detail(value_b64):
    """Decodes a `zitadel.v1.ErrorDetail` {1: id, 2: message} from the base64 protobuf of a Connect error.

    The SDK hands error bodies over undecoded (`ApiError.response_body`), so the detail is read here.
    Connect writes `value` as standard base64 without padding; padding is accepted too.
    """
    data = base64.b64decode(value_b64 + "=" * (-len(value_b64) % 4))
    fields, pos = {}, 0
    while pos < len(data):
        key, pos = read_varint(data, pos)
        number, wire_type = key >> 3, key & 7
        if wire_type != 2:
            raise AssertionError(f"ErrorDetail field {number} has wire type {wire_type}, expected 2 (bytes)")
        length, pos = read_varint(data, pos)
        fields[number] = data[pos : pos + length].decode("utf-8")
        pos += length
    return {"id": fields.get(1, ""), "message": fields.get(2, "")}


def main():
    url, org_id, name = env("PV_URL"), env("PV_ORG_ID"), env("PV_NAME")
    phone_a, phone_b = env("PV_PHONE_A"), env("PV_PHONE_B")
    auth = os.environ.get("PV_AUTH", "token")
    if auth == "client_credentials":
        client = Zitadel.with_client_credentials(url, env("PV_CLIENT_ID"), env("PV_CLIENT_SECRET"))
    elif auth == "private_key":
        client = Zitadel.with_private_key(url, env("PV_KEY_FILE"))
    else:
        client = Zitadel.with_access_token(url, env("PV_TOKEN"))
    check(True, f"signed in with {auth}")
    users = client.users

    added = users.add_human_user(
        UserServiceAddHumanUserRequest(
            username=name,
            organization=UserServiceOrganization(org_id=org_id),
            profile=UserServiceSetHumanProfile(given_name="Ada", family_name="Lovelace"),
            email=UserServiceSetHumanEmail(email=f"{name}@example.com"),
            phone=UserServiceSetHumanPhone(phone=phone_a, return_code={}),
        )
    )
    user_id = added.user_id
    check(bool(user_id), "AddHumanUser answers a userId", added)
    check(bool(added.phone_code), "AddHumanUser with phone.returnCode answers phoneCode", added)
    check(added.details is not None and added.details.resource_owner == org_id, "AddHumanUser details name the org", added.details)

    seen = len(sms_codes(phone_a))
    sent = users.resend_phone_code(UserServiceResendPhoneCodeRequest(user_id=user_id, send_code={}))
    check(sent.verification_code is None, "ResendPhoneCode with sendCode returns no code", sent)
    check(sent.details is not None and sent.details.sequence is not None, "ResendPhoneCode answers details", sent)
    sms = wait_for_sms(phone_a, seen)
    check(bool(sms), f"the sendCode resend reached the SMS gateway for {phone_a}")

    returned = users.resend_phone_code(UserServiceResendPhoneCodeRequest(user_id=user_id, return_code={}))
    code = returned.verification_code
    check(bool(code), "ResendPhoneCode with returnCode returns verificationCode", returned)

    verified = users.verify_phone(UserServiceVerifyPhoneRequest(user_id=user_id, verification_code=code))
    check(verified.details is not None, "VerifyPhone with the returned code answers details", verified)

    got = users.get_user_by_id(UserServiceGetUserByIDRequest(user_id=user_id))
    phone = got.user.human.phone if got.user and got.user.human else None
    check(phone is not None and phone.phone == phone_a, f"GetUserByID shows the phone {phone_a}", phone)
    check(phone.is_verified is True, "GetUserByID shows the phone verified", phone)
    check(got.user.username == name, "GetUserByID shows the username", got.user.username)

    changed = users.set_phone(UserServiceSetPhoneRequest(user_id=user_id, phone=phone_b, return_code={}))
    check(bool(changed.verification_code), "SetPhone with returnCode returns verificationCode", changed)
    got = users.get_user_by_id(UserServiceGetUserByIDRequest(user_id=user_id))
    phone = got.user.human.phone
    check(phone.phone == phone_b and not phone.is_verified, f"GetUserByID shows {phone_b}, not verified", phone)

    users.verify_phone(UserServiceVerifyPhoneRequest(user_id=user_id, verification_code=changed.verification_code))
    got = users.get_user_by_id(UserServiceGetUserByIDRequest(user_id=user_id))
    check(got.user.human.phone.is_verified is True, "VerifyPhone with the SetPhone code verifies the new number", got.user.human.phone)

    removed = users.remove_phone(UserServiceRemovePhoneRequest(user_id=user_id))
    check(removed.details is not None, "RemovePhone answers details", removed)
    got = users.get_user_by_id(UserServiceGetUserByIDRequest(user_id=user_id))
    phone = got.user.human.phone
    check(phone is None or not phone.phone, "GetUserByID shows no phone after RemovePhone", phone)

    expect_error(
        "ResendPhoneCode for an unknown user",
        404,
        "not_found",
        "COMMAND-ieJ2e",
        lambda: users.resend_phone_code(UserServiceResendPhoneCodeRequest(user_id=UNKNOWN_USER_ID, send_code={})),
    )
    stranger = Zitadel.with_access_token(url, "not-a-token").users
    expect_error(
        "GetUserByID with a token that is not one",
        401,
        "unauthenticated",
        "AUTH-7fs1e",
        lambda: stranger.get_user_by_id(UserServiceGetUserByIDRequest(user_id=user_id)),
    )


def expect_error(what, http_status, code, error_id, call):
    """`call` must fail with a Connect error: HTTP status, Connect code, and the ZITADEL error id in the message
    and in a zitadel.v1.ErrorDetail."""
    try:
        answer = call()
    except ApiError as error:
        body = error.response_body
        check(error.code == http_status, f"{what} fails with HTTP {http_status}", (error.code, body))
        check(isinstance(body, dict) and body.get("code") == code, f'{what}: the Connect error code is "{code}"', body)
        check(error_id in body.get("message", ""), f"{what}: the message names {error_id}", body.get("message"))
        details = [d for d in body.get("details", []) if d.get("type") == "zitadel.v1.ErrorDetail"]
        check(len(details) == 1, f"{what}: the error carries one zitadel.v1.ErrorDetail", body.get("details"))
        detail = decode_error_detail(details[0]["value"])
        check(detail["id"] == error_id, f"{what}: the ErrorDetail's id is {error_id}", detail)
        check(bool(detail["message"]), f"{what}: the ErrorDetail has a message", detail)
    else:
        raise AssertionError(f"{what} succeeded: {answer!r}")


if __name__ == "__main__":
    try:
        main()
    except ApiError as error:
        print(f"FAILED: unexpected API error HTTP {error.code}: {error.response_body!r}", file=sys.stderr)
        traceback.print_exc()
        sys.exit(1)
    except Exception:  # noqa: BLE001 - any failure is the test's failure; print it whole
        traceback.print_exc()
        sys.exit(1)
    print("all checks passed")
