"""The REST API through a Python client generated from the service's own OpenAPI document, as a user makes one.

Run by tests/official_clients against the real phoneverify binary. It reads /openapi.json from the server, checks
it with openapi-spec-validator, generates a client with openapi-python-client at its default options (any warning
about the document fails the run), imports that client and drives the README's walk-through through it: create
a user (201), set a phone and get its code, resend, a wrong code parsed as the error schema, verify, read the
verified phone, remove it, read again.

Environment: PV_URL, PV_TOKEN (a caller with user.write in its organization), PV_NAME, PV_PHONE_A; see flow.py.
Prints one line per check; exits 0 when every check passed, 1 with the reason otherwise.
"""

import os
import subprocess
import sys
import tempfile
import traceback
import urllib.request
from pathlib import Path


def env(name):
    value = os.environ.get(name, "")
    if not value:
        raise SystemExit(f"environment variable {name} is not set")
    return value


def check(condition, what, got=None):
    if not condition:
        raise AssertionError(what if got is None else f"{what}; got {got!r}")
    print(f"ok   {what}", flush=True)


def tool(name):
    """A command installed next to this interpreter (the test's virtualenv)."""
    return str(Path(sys.executable).parent / name)


def generate(work):
    document = work / "openapi.json"
    with urllib.request.urlopen(f"{env('PV_URL')}/openapi.json") as answer:
        document.write_bytes(answer.read())
    valid = subprocess.run([tool("openapi-spec-validator"), str(document)], capture_output=True, text=True)
    check(valid.returncode == 0, "openapi-spec-validator accepts /openapi.json", valid.stdout + valid.stderr)
    # The generator runs ruff on what it writes; it finds it on PATH, next to this interpreter.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    generated = subprocess.run(
        [tool("openapi-python-client"), "generate", "--path", str(document), "--output-path", str(work / "client")],
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": path},
    )
    output = generated.stdout + generated.stderr
    check(generated.returncode == 0, "openapi-python-client generates a client", output)
    check("warning" not in output.lower(), "the generator has no warning about the document", output)
    sys.path.insert(0, str(work / "client"))


def walk_through():
    from phoneverify_client import AuthenticatedClient
    from phoneverify_client.api.user_service_v_2 import (
        add_human_user,
        get_user_by_id,
        remove_phone,
        resend_phone_code,
        set_phone,
        verify_phone,
    )
    from phoneverify_client.models import (
        AddHumanUserRequest,
        AddHumanUserResponse,
        DetailsResponse,
        EmailV2In,
        ErrorBody,
        GetUserResponse,
        PhoneCodeResponse,
        ProfileV2In,
        ResendPhoneCodeRequest,
        ReturnCode,
        SetPhoneRequest,
        VerifyPhoneRequest,
    )

    name, phone = f"{env('PV_NAME')}-genpy", env("PV_PHONE_A")
    client = AuthenticatedClient(base_url=env("PV_URL"), token=env("PV_TOKEN"))

    created = add_human_user.sync_detailed(
        client=client,
        body=AddHumanUserRequest(
            username=name,
            profile=ProfileV2In(given_name="Gen", family_name="Python"),
            email=EmailV2In(email=f"{name}@example.com"),
        ),
    )
    check(created.status_code == 201, "AddHumanUser answers 201", created.status_code)
    check(isinstance(created.parsed, AddHumanUserResponse), "AddHumanUser parses", created.parsed)
    user_id = created.parsed.user_id

    first = set_phone.sync(client=client, user_id=user_id, body=SetPhoneRequest(phone=phone, return_code=ReturnCode()))
    check(isinstance(first, PhoneCodeResponse) and first.verification_code, "SetPhone returns a code", first)

    again = resend_phone_code.sync(client=client, user_id=user_id, body=ResendPhoneCodeRequest(return_code=ReturnCode()))
    check(isinstance(again, PhoneCodeResponse) and again.verification_code, "ResendPhoneCode returns a code", again)
    code = again.verification_code

    wrong = "000000" if code != "000000" else "111111"
    refused = verify_phone.sync(client=client, user_id=user_id, body=VerifyPhoneRequest(verification_code=wrong))
    check(isinstance(refused, ErrorBody), "a wrong code parses as the error schema", refused)
    check(refused.code == 3 and refused.details and refused.details[0].id, "the error has code 3 and an ID", refused)

    verified = verify_phone.sync(client=client, user_id=user_id, body=VerifyPhoneRequest(verification_code=code))
    check(isinstance(verified, DetailsResponse), "VerifyPhone with the resent code succeeds", verified)

    read = get_user_by_id.sync(client=client, user_id=user_id)
    check(isinstance(read, GetUserResponse), "GetUserByID parses", read)
    check(read.user.human.phone.phone == phone and read.user.human.phone.is_verified, "the phone reads verified", read)

    removed = remove_phone.sync(client=client, user_id=user_id)
    check(isinstance(removed, DetailsResponse), "RemovePhone succeeds", removed)
    read = get_user_by_id.sync(client=client, user_id=user_id)
    check(isinstance(read, GetUserResponse) and not read.user.human.phone.phone, "the phone is gone", read)


def main():
    try:
        with tempfile.TemporaryDirectory() as work:
            generate(Path(work))
            walk_through()
    except Exception:
        traceback.print_exc()
        return 1
    print("all checks passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
