import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { runCli } from "../helpers/cli";
import { control } from "../helpers/clients";
import { loadFleet } from "../sim/fleet";
import { type Sim, startSim } from "../sim/server";

const A = "i-0a000000000000001";

/**
 * The instance metadata service as hosts meet it: unreachable off EC2, slow on a busy host, IMDSv2
 * tokens required, a hop limit of 1 in a container, an instance without a role. Identity and the
 * instance-profile credentials both come from it.
 */
describe("instance metadata: identity and credentials, exit 6 with a reason when they cannot be had", () => {
  let sim: Sim | undefined;
  afterEach(() => sim?.stop());

  it("fails fast (exit 6) when instance metadata is unreachable, instead of hanging", async () => {
    sim = await startSim(loadFleet("three-hosts"));
    await control(sim, "POST", "faults", { service: "imds", host: A, kind: "unreachable" });
    // The kill is far above the designed ~5 s (quick try, then patient try): it tells a hang from a
    // slow machine without making this a timed test (timings are in npm run bench).
    const res = await runCli(sim.hosts[A]!, ["status"], { killAfterMs: 30_000 });
    assert.equal(res.signal, null, "still running after 30 s: hangs on unreachable metadata");
    assert.equal(res.code, 6);
    assert.match(
      res.stderr,
      /^balanced: instance metadata unreachable at http:\/\/127\.0\.0\.1:\d+ \(.*\); is this an EC2 instance\?\n$/,
    );
  });

  it("gives a metadata service that connects but answers slowly a second, patient try", async () => {
    sim = await startSim(loadFleet("three-hosts"));
    // Slower than the quick 1 s attempt, well within the patient one.
    await control(sim, "POST", "faults", { service: "imds", host: A, kind: "latency", ms: 1500 });
    const res = await runCli(sim.hosts[A]!, ["status"]);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /^i-0a000000000000001 \(us-east-1a, us-east-1\)/);
  });

  it("exits 6 when metadata refuses connections, or is disabled", async () => {
    sim = await startSim(loadFleet("three-hosts"));
    await control(sim, "POST", "faults", { service: "imds", host: A, kind: "unreachable", mode: "refuse" });
    assert.equal((await runCli(sim.hosts[A]!, ["out"])).code, 6);
    const disabled = await runCli(sim.hosts[A]!, ["out"], { env: { AWS_EC2_METADATA_DISABLED: "true" } });
    assert.equal(disabled.code, 6);
    assert.match(disabled.stderr, /instance metadata is disabled \(AWS_EC2_METADATA_DISABLED=true\)/);
  });

  it("works on a host that requires IMDSv2 tokens", async () => {
    const f = loadFleet("three-hosts");
    f.groups![0]!.instances![0]!.imdsTokens = "required";
    sim = await startSim(f);
    const res = await runCli(sim.hosts[A]!, ["status", "--json"]);
    assert.equal(res.code, 0, res.stderr);
    const calls = (await control(sim, "GET", "calls")) as { service: string; status: number }[];
    // Every request carried a token (none refused with 401); 404 is "no notice" for the notice paths.
    const imds = calls.filter((c) => c.service === "imds");
    assert.ok(
      imds.length > 0 && imds.every((c) => c.status === 200 || c.status === 404),
      JSON.stringify(imds),
    );
    assert.ok(imds.some((c) => c.status === 200));
  });

  it("behind a hop limit of 1 (the token PUT never answers): uses IMDSv1 and says why", async () => {
    sim = await startSim(loadFleet("three-hosts"));
    await control(sim, "POST", "faults", { service: "imds", host: A, kind: "hop-limit" });
    const res = await runCli(sim.hosts[A]!, ["status"], { killAfterMs: 60_000 });
    assert.equal(res.code, 0, res.stderr);
    assert.match(
      res.stderr,
      /warning: the IMDSv2 token request got no answer: the instance's metadata hop limit is likely 1 .*raise HttpPutResponseHopLimit to 2\); using IMDSv1/,
    );
  });

  it("behind a hop limit of 1 on a host that requires tokens: exit 6, naming the hop limit", async () => {
    const f = loadFleet("three-hosts");
    f.groups![0]!.instances![0]!.imdsTokens = "required";
    sim = await startSim(f);
    await control(sim, "POST", "faults", { service: "imds", host: A, kind: "hop-limit" });
    const res = await runCli(sim.hosts[A]!, ["status"], { killAfterMs: 60_000 });
    assert.equal(res.code, 6);
    assert.match(
      res.stderr,
      /requires IMDSv2 tokens, and the IMDSv2 token request got no answer: .*HttpPutResponseHopLimit to 2/,
    );
  });

  it("waits for instance-profile credentials from a slow metadata service (1.5 s an answer)", async () => {
    sim = await startSim(loadFleet("three-hosts"));
    await control(sim, "POST", "faults", { service: "imds", host: A, kind: "latency", ms: 1500 });
    const res = await runCli(sim.hosts[A]!, ["status"], { killAfterMs: 60_000 });
    assert.equal(res.code, 0, res.stderr);
  });

  it("exits 6, naming credentials, on a host launched without an instance profile", async () => {
    const f = loadFleet("three-hosts");
    f.groups![0]!.instances![0]!.role = null;
    sim = await startSim(f);
    const res = await runCli(sim.hosts[A]!, ["status"]);
    assert.equal(res.code, 6);
    assert.match(res.stderr, /^balanced: no AWS credentials for autoscaling:\w+: /);
  });
});
