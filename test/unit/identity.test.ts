import assert from "node:assert/strict";
import { createServer } from "node:http";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { readIdentity } from "../../src/aws/identity";

/**
 * A host whose CPU is taken (100 agents starting at once on 2 cores, or a deploy pegging a small
 * instance) runs this process late: the connection to the metadata service completes in the kernel,
 * but the connect timeout's timer is seen first. Reproduced here by holding the event loop for
 * 1.3 s right after the first connection is started; the service itself answers at once.
 */
describe("identity on a starved host", () => {
  const server = createServer((req, res) => {
    if (req.method === "PUT") return res.end("token");
    const answers: Record<string, string> = {
      "/latest/meta-data/instance-id": "i-0a000000000000001",
      "/latest/meta-data/placement/region": "us-east-1",
      "/latest/meta-data/placement/availability-zone": "us-east-1a",
      "/latest/meta-data/local-ipv4": "10.0.1.10",
    };
    const body = answers[(req.url ?? "").replace(/^\/+/, "/")];
    if (body === undefined) res.writeHead(404);
    res.end(body ?? "");
  });
  const connect = net.Socket.prototype.connect;
  const saved = { ...process.env };
  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as net.AddressInfo;
    process.env.AWS_EC2_METADATA_SERVICE_ENDPOINT = `http://127.0.0.1:${port}`;
    delete process.env.AWS_REGION;
  });
  after(() => {
    net.Socket.prototype.connect = connect;
    process.env = saved;
    server.close();
  });

  it("gives a connection that seemed not to complete in time its patient try", async () => {
    let connections = 0;
    net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
      const socket = (connect as (...a: unknown[]) => net.Socket).apply(this, args);
      if (connections++ === 0) {
        setImmediate(() => {
          const until = Date.now() + 1300;
          while (Date.now() < until) {
            // starved: another process has the CPU
          }
        });
      }
      return socket;
    } as typeof connect;
    const identity = await readIdentity();
    assert.equal(identity.instanceId, "i-0a000000000000001");
    assert.equal(identity.region, "us-east-1");
    assert.equal(identity.note, undefined);
    assert.ok(connections > 1, "the starved first connection was not tried again");
  });
});
