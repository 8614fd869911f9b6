// The README's walk-through through a typed client that openapi-typescript (default options) generated from the
// service's /openapi.json, called with openapi-fetch. generated_rest.mjs writes ./schema.d.ts next to this file,
// type-checks it with tsc (strict) and runs the result; a field the document marks wrongly (required where the
// server does not need it, or a missing path) fails the type check before anything runs.

import createClient from "openapi-fetch";
import type { paths } from "./schema.js";

function env(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(`environment variable ${name} is not set`);
  }
  return value;
}

function check(condition: unknown, what: string, got?: unknown): void {
  if (!condition) {
    throw new Error(got === undefined ? what : `${what}; got ${JSON.stringify(got)}`);
  }
  console.log(`ok   ${what}`);
}

async function walkThrough(): Promise<void> {
  const name = `${env("PV_NAME")}-gents`;
  const phone = env("PV_PHONE_B");
  const client = createClient<paths>({
    baseUrl: env("PV_URL"),
    headers: { Authorization: `Bearer ${env("PV_TOKEN")}` },
  });

  const created = await client.POST("/v2/users/human", {
    body: {
      username: name,
      profile: { givenName: "Gen", familyName: "TypeScript" },
      email: { email: `${name}@example.com` },
    },
  });
  check(created.response.status === 201 && created.data, "AddHumanUser answers 201 with a body", created.error);
  const userId = created.data!.userId;
  const path = { path: { userId } };

  const set = await client.POST("/v2/users/{userId}/phone", { params: path, body: { phone, returnCode: {} } });
  check(set.data?.verificationCode, "SetPhone returns a code", set.error);

  const resent = await client.POST("/v2/users/{userId}/phone/resend", { params: path, body: { returnCode: {} } });
  check(resent.data?.verificationCode, "ResendPhoneCode returns a code", resent.error);
  const code = resent.data!.verificationCode!;

  const wrong = code === "000000" ? "111111" : "000000";
  const refused = await client.POST("/v2/users/{userId}/phone/verify", {
    params: path,
    body: { verificationCode: wrong },
  });
  check(refused.error, "a wrong code is an error", refused.data);
  check(
    refused.error!.code === 3 && refused.error!.details[0]?.id,
    "the error reads as the error schema: code 3 with an ID",
    refused.error,
  );

  const verified = await client.POST("/v2/users/{userId}/phone/verify", {
    params: path,
    body: { verificationCode: code },
  });
  check(verified.data?.details, "VerifyPhone with the resent code succeeds", verified.error);

  const read = await client.GET("/v2/users/{userId}", { params: path });
  const readPhone = read.data?.user.human?.phone;
  check(readPhone?.phone === phone && readPhone?.isVerified, "the phone reads verified", read.data ?? read.error);

  const removed = await client.DELETE("/v2/users/{userId}/phone", { params: path });
  check(removed.data?.details, "RemovePhone succeeds", removed.error);
  const after = await client.GET("/v2/users/{userId}", { params: path });
  check(after.data && !after.data.user.human?.phone.phone, "the phone is gone", after.data ?? after.error);
}

walkThrough().then(
  () => {
    console.log("all checks passed");
  },
  (error: unknown) => {
    console.error("FAILED:", error instanceof Error ? error.stack : error);
    process.exit(1);
  },
);
