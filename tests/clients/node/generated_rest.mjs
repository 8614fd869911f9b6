// The REST API through a TypeScript client generated from the service's own OpenAPI document, as a user makes
// one: openapi-typescript (default options) turns /openapi.json into schema.d.ts, tsc type-checks the
// walk-through in generated/walkthrough.ts against it (strict), and the compiled walk-through runs against the
// server with openapi-fetch. A warning from the generator, a type error or a failed check fails the run.
// Environment: PV_URL, PV_TOKEN, PV_NAME, PV_PHONE_B; see common.mjs.

import { execFileSync } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { check, env, run } from "./common.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const modules = join(here, "node_modules");

/** Runs node on `script` in `cwd`; answers its output, or throws with it. */
function node(script, args, cwd) {
  try {
    return execFileSync(process.execPath, [script, ...args], { cwd, encoding: "utf8", stdio: "pipe" });
  } catch (error) {
    throw new Error(`${script} ${args.join(" ")} failed:\n${error.stdout ?? ""}${error.stderr ?? ""}`);
  }
}

await run(async () => {
  const work = mkdtempSync(join(tmpdir(), "phoneverify-generated-ts-"));
  try {
    // The walk-through resolves openapi-fetch and the Node types from this directory's pinned node_modules.
    symlinkSync(modules, join(work, "node_modules"), "dir");
    writeFileSync(join(work, "package.json"), JSON.stringify({ type: "module" }));
    for (const file of ["walkthrough.ts", "tsconfig.json"]) {
      copyFileSync(join(here, "generated", file), join(work, file));
    }
    const answer = await fetch(`${env("PV_URL")}/openapi.json`);
    check(answer.ok, "/openapi.json is served", answer.status);
    writeFileSync(join(work, "openapi.json"), await answer.text());

    const generated = node(join(modules, "openapi-typescript/bin/cli.js"), ["openapi.json", "-o", "schema.d.ts"], work);
    check(!/warn/i.test(generated), "openapi-typescript generates types without a warning", generated);

    node(join(modules, "typescript/bin/tsc"), ["-p", "tsconfig.json"], work);
    check(true, "the walk-through type-checks against the generated types (tsc --strict)");

    const output = node(join(work, "dist/walkthrough.js"), [], work);
    process.stdout.write(output.replace(/all checks passed\s*$/, ""));
    check(output.trimEnd().endsWith("all checks passed"), "the walk-through ran through openapi-fetch", output);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
