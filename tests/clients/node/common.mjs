// Shared by the flow scripts: settings from the environment, checks that print what they checked, and the
// test's SMS gateway (the server's webhook provider posts there; the gateway lists the codes it received).
//
// Environment (set by tests/official_clients.rs):
//   PV_URL       the server, e.g. http://127.0.0.1:8080
//   PV_TOKEN     bearer token of a caller with user.write in PV_ORG_ID (a personal access token)
//   PV_ORG_ID    the organization users are created in
//   PV_NAME      a name for this run, unique per server (usernames are made from it)
//   PV_PHONE_A   two valid numbers in E.164 that no other run uses
//   PV_PHONE_B
//   PV_SMS_URL   GET {PV_SMS_URL}/codes/<digits of the number> answers {"codes": [...]}, oldest first
//   PV_SELF_TOKEN, PV_SELF_USER_ID   (auth v1 only) a human user without a phone and that user's own token

// An id no user has.
export const UNKNOWN_USER_ID = "100000000000000001";

export function env(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`environment variable ${name} is not set`);
  }
  return value;
}

export function check(condition, what, got) {
  if (!condition) {
    const shown = got === undefined ? "" : `; got ${show(got)}`;
    throw new Error(`${what}${shown}`);
  }
  console.log(`ok   ${what}`);
}

export function show(value) {
  return JSON.stringify(value, (_key, v) => (typeof v === "bigint" ? `${v}n` : v));
}

export async function smsCodes(phone) {
  const response = await fetch(`${env("PV_SMS_URL")}/codes/${phone.replace(/^\+/, "")}`);
  if (!response.ok) {
    throw new Error(`SMS gateway answered ${response.status}`);
  }
  return (await response.json()).codes;
}

/** Waits until the gateway holds more than `seen` codes for `phone`; returns the newest. */
export async function waitForSms(phone, seen) {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const codes = await smsCodes(phone);
    if (codes.length > seen) {
      return codes[codes.length - 1];
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no SMS to ${phone} within 20 s (still ${seen} codes at the gateway)`);
}

/** Runs `call`, which must fail; returns the error. */
export async function failure(what, call) {
  try {
    const answer = await call();
    throw new Error(`${what} succeeded: ${show(answer)}`, { cause: "unexpected success" });
  } catch (error) {
    if (error?.cause === "unexpected success") {
      throw error;
    }
    return error;
  }
}

/** Runs the flow; exit status 0 when every check passed, 1 with the reason otherwise. */
export async function run(flow) {
  try {
    await flow();
    console.log("all checks passed");
    process.exit(0);
  } catch (error) {
    console.error("FAILED:", error?.stack ?? error);
    if (error?.code !== undefined) {
      console.error("error code:", error.code, "details:", show(error.details ?? error.rawMessage));
    }
    process.exit(1);
  }
}
