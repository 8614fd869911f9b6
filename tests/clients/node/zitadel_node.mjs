// Phone flows driven with ZITADEL's official `@zitadel/node` (nice-grpc over @grpc/grpc-js: gRPC over HTTP/2
// cleartext, `application/grpc`), one per first argument:
//   user-v2beta     zitadel.user.v2beta.UserService with the PAT
//   auth-v1         zitadel.auth.v1.AuthService with the user's own token (PV_SELF_TOKEN)
//   management-v1   zitadel.management.v1.ManagementService with the PAT and `x-zitadel-orgid` metadata
// Tokens go in through the package's createAccessTokenInterceptor. Environment: see common.mjs.
//
// nice-grpc reports the status code and message (ClientError) but not the status details; the
// `grpc-status-details-bin` trailer is read with the call's onTrailer option, and its zitadel.v1.ErrorDetail is
// decoded with the package's own generated ErrorDetail.

import { BinaryReader } from "@bufbuild/protobuf/wire";
import {
  createAccessTokenInterceptor,
  createAuthClient,
  createManagementClient,
  createUserClient,
} from "@zitadel/node/dist/api/index.js";
import { ErrorDetail } from "@zitadel/node/dist/api/generated/zitadel/message.js";
import { ClientError, Metadata, Status } from "nice-grpc";

import { UNKNOWN_USER_ID, check, env, failure, run, show, smsCodes, waitForSms } from "./common.mjs";

// An org id no organization has.
const UNKNOWN_ORG_ID = "100000000000000002";

/** Call options that keep the trailers of the call in `trailers.last`. */
function keepTrailers(metadata) {
  const trailers = { last: undefined };
  const options = { onTrailer: (t) => (trailers.last = t) };
  if (metadata) {
    options.metadata = metadata;
  }
  return [options, trailers];
}

/** The zitadel.v1.ErrorDetail messages in a `grpc-status-details-bin` trailer (a google.rpc.Status). */
function errorDetails(trailer) {
  const raw = trailer?.get("grpc-status-details-bin");
  if (!raw) {
    return [];
  }
  const bytes = typeof raw === "string" ? Buffer.from(raw, "base64") : raw;
  const details = [];
  const status = new BinaryReader(bytes);
  while (status.pos < status.len) {
    const [field, wireType] = status.tag();
    if (field !== 3) {
      status.skip(wireType);
      continue;
    }
    // google.protobuf.Any { string type_url = 1; bytes value = 2; }
    const any = new BinaryReader(status.bytes());
    let typeUrl = "";
    let value = new Uint8Array();
    while (any.pos < any.len) {
      const [f, w] = any.tag();
      if (f === 1) typeUrl = any.string();
      else if (f === 2) value = any.bytes();
      else any.skip(w);
    }
    if (typeUrl === "type.googleapis.com/zitadel.v1.ErrorDetail") {
      details.push(ErrorDetail.decode(value));
    }
  }
  return details;
}

/** Runs `call(options)`, which must fail with `code` and the ZITADEL error `id` (message and status detail). */
async function expectError(what, code, id, call, metadata) {
  const [options, trailers] = keepTrailers(metadata);
  const error = await failure(what, () => call(options));
  check(error instanceof ClientError, `${what} fails with a ClientError`, String(error));
  check(error.code === code, `${what}: the status is ${Status[code]}`, Status[error.code]);
  check(error.details.includes(`(${id})`), `${what}: the message names ${id}`, error.details);
  const details = errorDetails(trailers.last);
  check(details.length === 1, `${what}: one zitadel.v1.ErrorDetail in grpc-status-details-bin`, details);
  check(details[0].id === id, `${what}: the ErrorDetail's id is ${id}`, details[0]);
}

async function addUser(users, orgId, name, phone) {
  const added = await users.addHumanUser({
    username: name,
    organization: { orgId },
    profile: { givenName: "Ada", familyName: "Lovelace" },
    email: { email: `${name}@example.com` },
    ...(phone ? { phone: { phone, returnCode: {} } } : {}),
  });
  check(added.userId !== "", "v2beta AddHumanUser answers a userId", added);
  check(added.details?.resourceOwner === orgId, "v2beta AddHumanUser details name the org", added.details);
  return added;
}

async function userV2beta() {
  const [orgId, name, phoneA, phoneB] = ["PV_ORG_ID", "PV_NAME", "PV_PHONE_A", "PV_PHONE_B"].map(env);
  const users = createUserClient(env("PV_URL"), createAccessTokenInterceptor(env("PV_TOKEN")));

  const added = await addUser(users, orgId, name, phoneA);
  const userId = added.userId;
  check(!!added.phoneCode, "AddHumanUser with phone.returnCode answers phoneCode", added);

  const seen = (await smsCodes(phoneA)).length;
  const sent = await users.resendPhoneCode({ userId, sendCode: {} });
  check(sent.verificationCode === undefined, "ResendPhoneCode with sendCode returns no code", sent);
  check(sent.details !== undefined && sent.details.sequence.toNumber() > 0, "ResendPhoneCode answers details", sent);
  await waitForSms(phoneA, seen);
  check(true, `the sendCode resend reached the SMS gateway for ${phoneA}`);

  const returned = await users.resendPhoneCode({ userId, returnCode: {} });
  check(!!returned.verificationCode, "ResendPhoneCode with returnCode returns verificationCode", returned);

  const verified = await users.verifyPhone({ userId, verificationCode: returned.verificationCode });
  check(verified.details !== undefined, "VerifyPhone with the returned code answers details", verified);

  let got = await users.getUserByID({ userId });
  let phone = got.user?.human?.phone;
  check(phone?.phone === phoneA, `GetUserByID shows the phone ${phoneA}`, got.user);
  check(phone.isVerified === true, "GetUserByID shows the phone verified", phone);
  check(got.user.username === name, "GetUserByID shows the username", got.user.username);

  const changed = await users.setPhone({ userId, phone: phoneB, returnCode: {} });
  check(!!changed.verificationCode, "SetPhone with returnCode returns verificationCode", changed);
  got = await users.getUserByID({ userId });
  phone = got.user.human.phone;
  check(phone?.phone === phoneB && phone.isVerified === false, `GetUserByID shows ${phoneB}, not verified`, phone);

  await users.verifyPhone({ userId, verificationCode: changed.verificationCode });
  got = await users.getUserByID({ userId });
  check(got.user.human.phone?.isVerified === true, "VerifyPhone with the SetPhone code verifies the new number", got.user.human.phone);

  const removed = await users.removePhone({ userId });
  check(removed.details !== undefined, "RemovePhone answers details", removed);
  got = await users.getUserByID({ userId });
  phone = got.user.human.phone;
  check(phone === undefined || phone.phone === "", "GetUserByID shows no phone after RemovePhone", phone);

  await expectError("ResendPhoneCode for an unknown user", Status.NOT_FOUND, "COMMAND-ieJ2e", (options) =>
    users.resendPhoneCode({ userId: UNKNOWN_USER_ID, sendCode: {} }, options),
  );
}

async function authV1() {
  const [selfId, phoneA] = ["PV_SELF_USER_ID", "PV_PHONE_A"].map(env);
  const auth = createAuthClient(env("PV_URL"), createAccessTokenInterceptor(env("PV_SELF_TOKEN")));

  let me = await auth.getMyUser({});
  check(me.user?.id === selfId, "GetMyUser answers the token's user", me.user);
  check(me.user.human !== undefined, "GetMyUser answers a human", me.user);

  let seen = (await smsCodes(phoneA)).length;
  const set = await auth.setMyPhone({ phone: phoneA });
  check(set.details !== undefined, "SetMyPhone answers details", set);
  await waitForSms(phoneA, seen);
  check(true, `SetMyPhone sent a code to ${phoneA}`);

  let mine = await auth.getMyPhone({});
  check(mine.phone?.phone === phoneA && !mine.phone.isPhoneVerified, `GetMyPhone shows ${phoneA}, not verified`, mine);

  seen = (await smsCodes(phoneA)).length;
  const resent = await auth.resendMyPhoneVerification({});
  check(resent.details !== undefined, "ResendMyPhoneVerification answers details", resent);
  const code = await waitForSms(phoneA, seen);
  check(true, `ResendMyPhoneVerification sent a new code to ${phoneA}`);

  // Longer than any code the server makes by default (6), so never right.
  await expectError("VerifyMyPhone with a wrong code", Status.INVALID_ARGUMENT, "COMMAND-sM0cs", (options) =>
    auth.verifyMyPhone({ code: "0000000" }, options),
  );

  const verified = await auth.verifyMyPhone({ code });
  check(verified.details !== undefined, "VerifyMyPhone with the SMS code answers details", verified);
  mine = await auth.getMyPhone({});
  check(mine.phone?.isPhoneVerified === true, "GetMyPhone shows the phone verified", mine.phone);
  me = await auth.getMyUser({});
  const phone = me.user.human.phone;
  check(phone?.phone === phoneA && phone.isPhoneVerified === true, "GetMyUser shows the verified phone", phone);

  const removed = await auth.removeMyPhone({});
  check(removed.details !== undefined, "RemoveMyPhone answers details", removed);
  mine = await auth.getMyPhone({});
  check(mine.phone === undefined || mine.phone.phone === "", "GetMyPhone shows no phone after RemoveMyPhone", mine);

  await expectError("ResendMyPhoneVerification without a phone", Status.NOT_FOUND, "COMMAND-2b7Hf", (options) =>
    auth.resendMyPhoneVerification({}, options),
  );
}

async function managementV1() {
  const [orgId, name, phoneA, phoneB] = ["PV_ORG_ID", "PV_NAME", "PV_PHONE_A", "PV_PHONE_B"].map(env);
  const token = createAccessTokenInterceptor(env("PV_TOKEN"));
  const management = createManagementClient(env("PV_URL"), token);
  // Management v1 has no verify and no create-human call among those served: the user service does those.
  const users = createUserClient(env("PV_URL"), token);
  const inOrg = () => new Metadata({ "x-zitadel-orgid": orgId });
  const opts = () => ({ metadata: inOrg() });

  const userId = (await addUser(users, orgId, name)).userId;

  let seen = (await smsCodes(phoneA)).length;
  const updated = await management.updateHumanPhone({ userId, phone: phoneA, isPhoneVerified: false }, opts());
  check(updated.details !== undefined, "UpdateHumanPhone answers details", updated);
  await waitForSms(phoneA, seen);
  check(true, `UpdateHumanPhone sent a code to ${phoneA}`);

  let got = await management.getHumanPhone({ userId }, opts());
  check(got.phone?.phone === phoneA && !got.phone.isPhoneVerified, `GetHumanPhone shows ${phoneA}, not verified`, got);
  check(got.details?.resourceOwner === orgId, "GetHumanPhone details name the org", got.details);

  seen = (await smsCodes(phoneA)).length;
  const resent = await management.resendHumanPhoneVerification({ userId }, opts());
  check(resent.details !== undefined, "ResendHumanPhoneVerification answers details", resent);
  const code = await waitForSms(phoneA, seen);
  check(true, `ResendHumanPhoneVerification sent a new code to ${phoneA}`);

  await users.verifyPhone({ userId, verificationCode: code });
  got = await management.getHumanPhone({ userId }, opts());
  check(got.phone?.isPhoneVerified === true, "GetHumanPhone shows the phone verified after verifying the SMS code", got.phone);

  await management.updateHumanPhone({ userId, phone: phoneB, isPhoneVerified: true }, opts());
  got = await management.getHumanPhone({ userId }, opts());
  check(got.phone?.phone === phoneB && got.phone.isPhoneVerified === true, `UpdateHumanPhone with isPhoneVerified sets ${phoneB} verified`, got.phone);

  const removed = await management.removeHumanPhone({ userId }, opts());
  check(removed.details !== undefined, "RemoveHumanPhone answers details", removed);
  got = await management.getHumanPhone({ userId }, opts());
  check(got.phone === undefined || got.phone.phone === "", "GetHumanPhone shows no phone after RemoveHumanPhone", got);

  await expectError(
    "ResendHumanPhoneVerification without a phone",
    Status.NOT_FOUND,
    "COMMAND-2b7Hf",
    (options) => management.resendHumanPhoneVerification({ userId }, options),
    inOrg(),
  );
  await expectError(
    "ResendHumanPhoneVerification for an unknown user",
    Status.FAILED_PRECONDITION,
    "COMMAND-2M0fs",
    (options) => management.resendHumanPhoneVerification({ userId: UNKNOWN_USER_ID }, options),
    inOrg(),
  );
  await expectError(
    "GetHumanPhone with x-zitadel-orgid of an unknown org",
    Status.PERMISSION_DENIED,
    "AUTH-Bs7Ds",
    (options) => management.getHumanPhone({ userId }, options),
    new Metadata({ "x-zitadel-orgid": UNKNOWN_ORG_ID }),
  );
}

const flows = { "user-v2beta": userV2beta, "auth-v1": authV1, "management-v1": managementV1 };
const flow = flows[process.argv[2]];
run(flow ?? (() => Promise.reject(new Error(`unknown flow ${show(process.argv[2])}; one of ${Object.keys(flows)}`))));
