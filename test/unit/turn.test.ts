import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { orphansToGiveBack } from "../../src/aws/turn";
import { formatTurn, type Turn } from "../../src/core/turn";

const NOW = Date.parse("2026-12-02T01:00:00Z");
const DEAD = 9_999_999;
const turn = (nonce: string, expiresInMs: number, holder = "i-a", pid = DEAD): Turn => ({
  holder,
  pid,
  nonce,
  expiresAt: NOW + expiresInMs,
});

describe("orphansToGiveBack: what a rerun gives back of a killed run's turn", () => {
  const waited = turn("n1", 90_000);
  it("the turn waited for wherever it is found, whatever its deadline", () => {
    const got = orphansToGiveBack(
      [formatTurn(waited), undefined, formatTurn(waited)],
      "i-a",
      waited,
      3_000,
      NOW,
    );
    assert.deepEqual(got, [waited, undefined, waited]);
  });
  it("another orphan of this host only once its acting calls are over (act deadline and staleness bound)", () => {
    // Acting until expiry - 60 s + 30 s: 20 s left is over by 10 s, 40 s left still acting.
    const over = turn("n2", 20_000);
    const acting = turn("n3", 40_000);
    const got = orphansToGiveBack([formatTurn(over), formatTurn(acting)], "i-a", waited, 3_000, NOW);
    assert.deepEqual(got, [over, undefined]);
  });
  it("never a turn of another host, of a live process here, or a value it cannot read", () => {
    const others = [turn("n1", 90_000, "i-b"), turn("n1", 90_000, "i-a", process.pid)].map(formatTurn);
    const got = orphansToGiveBack([...others, "someone's note"], "i-a", waited, 3_000, NOW);
    assert.deepEqual(got, [undefined, undefined, undefined]);
  });
});
