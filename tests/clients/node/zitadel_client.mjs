// The phone flow of ZITADEL's user service v2, driven with ZITADEL's official `@zitadel/client` (connect-es)
// over one transport, named by the first argument:
//   grpc                 the SDK's node entry, createServerTransport: gRPC over HTTP/2 cleartext
//   grpc-web             the SDK's web entry, createClientTransport: gRPC-web (fetch, HTTP/1.1)
//   connect-json-http1   createConnectTransport (@connectrpc/connect-node): Connect with JSON over HTTP/1.1
//   connect-binary-http2 createConnectTransport with useBinaryFormat: Connect with protobuf over HTTP/2 cleartext
// The token goes in through the SDK's own bearer interceptor. Environment: see common.mjs.

import { NewAuthorizationBearerInterceptor } from "@zitadel/client";
import { createServerTransport } from "@zitadel/client/node";
import { createUserServiceClient } from "@zitadel/client/v2";
import { createClientTransport } from "@zitadel/client/web";
import { Code, ConnectError } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { ErrorDetailSchema } from "@zitadel/proto/zitadel/message_pb.js";

import { UNKNOWN_USER_ID, check, env, failure, run, show, smsCodes, waitForSms } from "./common.mjs";

function transport(kind, baseUrl, token) {
  switch (kind) {
    case "grpc":
      return createServerTransport(token, { baseUrl });
    case "grpc-web":
      return createClientTransport(token, { baseUrl });
    case "connect-json-http1":
      return createConnectTransport({
        baseUrl,
        httpVersion: "1.1",
        interceptors: [NewAuthorizationBearerInterceptor(token)],
      });
    case "connect-binary-http2":
      return createConnectTransport({
        baseUrl,
        httpVersion: "2",
        useBinaryFormat: true,
        interceptors: [NewAuthorizationBearerInterceptor(token)],
      });
    default:
      throw new Error(`unknown transport ${show(kind)}`);
  }
}

/** `call` must fail with `code` and the ZITADEL error `id`, in the message and in a decoded ErrorDetail. */
async function expectError(what, code, id, call) {
  const error = await failure(what, call);
  check(error instanceof ConnectError, `${what} fails with a ConnectError`, String(error));
  check(error.code === code, `${what}: the error code is ${Code[code]}`, Code[error.code]);
  check(error.rawMessage.includes(`(${id})`), `${what}: the message names ${id}`, error.rawMessage);
  const details = error.findDetails(ErrorDetailSchema);
  check(details.length === 1, `${what}: the client decodes one zitadel.v1.ErrorDetail`, error.details);
  check(details[0].id === id, `${what}: the ErrorDetail's id is ${id}`, details[0]);
  check(details[0].message !== "", `${what}: the ErrorDetail has a message`, details[0]);
}

async function flow() {
  const kind = process.argv[2];
  const [orgId, name, phoneA, phoneB] = ["PV_ORG_ID", "PV_NAME", "PV_PHONE_A", "PV_PHONE_B"].map(env);
  const users = createUserServiceClient(transport(kind, env("PV_URL"), env("PV_TOKEN")));
  console.log(`transport: ${kind}`);

  const added = await users.addHumanUser({
    username: name,
    organization: { org: { case: "orgId", value: orgId } },
    profile: { givenName: "Ada", familyName: "Lovelace" },
    email: { email: `${name}@example.com` },
    phone: { phone: phoneA, verification: { case: "returnCode", value: {} } },
  });
  const userId = added.userId;
  check(userId !== "", "AddHumanUser answers a userId", added);
  check(!!added.phoneCode, "AddHumanUser with phone.returnCode answers phoneCode", added);
  check(added.details?.resourceOwner === orgId, "AddHumanUser details name the org", added.details);

  const seen = (await smsCodes(phoneA)).length;
  const sent = await users.resendPhoneCode({ userId, verification: { case: "sendCode", value: {} } });
  check(sent.verificationCode === undefined, "ResendPhoneCode with sendCode returns no code", sent);
  check(sent.details !== undefined && sent.details.sequence > 0n, "ResendPhoneCode answers details", sent);
  await waitForSms(phoneA, seen);
  check(true, `the sendCode resend reached the SMS gateway for ${phoneA}`);

  const returned = await users.resendPhoneCode({ userId, verification: { case: "returnCode", value: {} } });
  check(!!returned.verificationCode, "ResendPhoneCode with returnCode returns verificationCode", returned);

  const verified = await users.verifyPhone({ userId, verificationCode: returned.verificationCode });
  check(verified.details !== undefined, "VerifyPhone with the returned code answers details", verified);

  let got = await users.getUserByID({ userId });
  check(got.user?.type.case === "human", "GetUserByID answers a human user", got.user);
  let phone = got.user.type.value.phone;
  check(phone?.phone === phoneA, `GetUserByID shows the phone ${phoneA}`, phone);
  check(phone.isVerified === true, "GetUserByID shows the phone verified", phone);
  check(got.user.username === name, "GetUserByID shows the username", got.user.username);

  const changed = await users.setPhone({
    userId,
    phone: phoneB,
    verification: { case: "returnCode", value: {} },
  });
  check(!!changed.verificationCode, "SetPhone with returnCode returns verificationCode", changed);
  got = await users.getUserByID({ userId });
  phone = got.user.type.value.phone;
  check(phone?.phone === phoneB && phone.isVerified === false, `GetUserByID shows ${phoneB}, not verified`, phone);

  await users.verifyPhone({ userId, verificationCode: changed.verificationCode });
  got = await users.getUserByID({ userId });
  phone = got.user.type.value.phone;
  check(phone?.isVerified === true, "VerifyPhone with the SetPhone code verifies the new number", phone);

  const removed = await users.removePhone({ userId });
  check(removed.details !== undefined, "RemovePhone answers details", removed);
  got = await users.getUserByID({ userId });
  phone = got.user.type.value.phone;
  check(phone === undefined || phone.phone === "", "GetUserByID shows no phone after RemovePhone", phone);

  await expectError("ResendPhoneCode for an unknown user", Code.NotFound, "COMMAND-ieJ2e", () =>
    users.resendPhoneCode({ userId: UNKNOWN_USER_ID, verification: { case: "sendCode", value: {} } }),
  );
  const stranger = createUserServiceClient(transport(kind, env("PV_URL"), "not-a-token"));
  await expectError("GetUserByID with a token that is not one", Code.Unauthenticated, "AUTH-7fs1e", () =>
    stranger.getUserByID({ userId }),
  );
}

run(flow);
