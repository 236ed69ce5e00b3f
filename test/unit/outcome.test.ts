import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { toAwsCallError } from "../../src/aws/clients";
import { callOutcome, notApplied, unprocessed } from "../../src/aws/outcome";

/** An SDK error as the SDK throws it: its name is AWS's error code. */
const sdkError = (name: string, message = "message", extra: Record<string, unknown> = {}) =>
  Object.assign(new Error(message), { name, ...extra });

const outcome = (err: Error) => callOutcome(toAwsCallError("autoscaling:EnterStandby", err));

describe("what a failed call says about the change it asked for", () => {
  it("throttled or contended: refused unprocessed", () => {
    for (const name of ["Throttling", "ThrottlingException", "RequestLimitExceeded", "ResourceContention"])
      assert.equal(outcome(sdkError(name)), "unprocessed", name);
  });

  it("an answer that it was not applied: refused", () => {
    assert.equal(outcome(sdkError("ValidationError", "The instance i-1 is not in InService.")), "refused");
    assert.equal(outcome(sdkError("AccessDenied")), "refused");
    assert.equal(outcome(sdkError("LimitExceeded")), "refused");
    assert.equal(outcome(sdkError("CredentialsProviderError")), "refused");
    assert.equal(outcome(sdkError("ScalingActivityInProgressFault")), "refused");
    assert.equal(outcome(sdkError("ResourceInUse")), "refused");
  });

  it("no answer, AWS failing, or an answer it does not know: unknown", () => {
    assert.equal(outcome(sdkError("TimeoutError")), "unknown");
    assert.equal(outcome(sdkError("Error", "socket hang up", { code: "ECONNRESET" })), "unknown");
    assert.equal(outcome(sdkError("InternalFailure")), "unknown");
    assert.equal(outcome(sdkError("ServiceUnavailable")), "unknown");
    // An answer this table does not know is not taken to mean "not applied": nothing is undone for it.
    assert.equal(outcome(sdkError("SomethingAwsAddsNextYear")), "unknown");
  });

  it("notApplied and unprocessed, for any error; neither for one that is no AWS call's", () => {
    const throttled = toAwsCallError("x", sdkError("Throttling"));
    const refused = toAwsCallError("x", sdkError("ValidationError"));
    const lost = toAwsCallError("x", sdkError("TimeoutError"));
    assert.deepEqual(
      [throttled, refused, lost, new Error("a bug")].map((e) => [notApplied(e), unprocessed(e)]),
      [
        [true, true],
        [true, false],
        [false, false],
        [false, false],
      ],
    );
  });
});
