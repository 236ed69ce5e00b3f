import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import {
  AutoScalingClient,
  CreateAutoScalingGroupCommand,
  DescribeAutoScalingGroupsCommand,
} from "@aws-sdk/client-auto-scaling";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  CreateLaunchTemplateCommand,
  DescribeSubnetsCommand,
  EC2Client,
  RunInstancesCommand,
} from "@aws-sdk/client-ec2";
import {
  ConfigureHealthCheckCommand,
  CreateLoadBalancerCommand as CreateClassicCommand,
  DeregisterInstancesFromLoadBalancerCommand,
  ElasticLoadBalancingClient,
  RegisterInstancesWithLoadBalancerCommand,
} from "@aws-sdk/client-elastic-load-balancing";
import {
  CreateListenerCommand,
  CreateLoadBalancerCommand,
  CreateTargetGroupCommand,
  DeregisterTargetsCommand,
  ElasticLoadBalancingV2Client,
  ModifyTargetGroupAttributesCommand,
  RegisterTargetsCommand,
} from "@aws-sdk/client-elastic-load-balancing-v2";
import { FaultBook } from "../sim/faults";
import { ImdsServer } from "../sim/imds";
import { readBody } from "../sim/server";
import type { World } from "../sim/world";

/**
 * moto (an independent emulator of AWS, in the pyenv Python of every machine of this kind) as a
 * second opinion on what the agent does: a moto server, an account built in it through the SDK,
 * and the project's own metadata service answering for one of moto's instances.
 */
const REGION = "us-east-1";
const STATIC = { accessKeyId: "testing", secretAccessKey: "testing" };

/** Whether moto can run here, or why not. */
export function motoAvailable(): true | string {
  try {
    execFileSync("python3", ["-c", "import moto.server"], { stdio: "ignore", timeout: 30_000 });
    return true;
  } catch {
    return "needs python3 with moto[server] (pip install 'moto[server]')";
  }
}

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });

export interface MotoWorld {
  /** The agent's environment as one host: region, endpoints (the proxy), its metadata service. */
  envFor(instanceId: string): Promise<Record<string, string>>;
  clients: ReturnType<typeof clientsAt>;
  group: string;
  groupInstances(): Promise<string[]>;
  tgArn: string;
  lbName: string;
  /** An instance in no group, registered with the classic ELB and the target group. */
  loneInstance: string;
  /** Every action the agent sent, in order. */
  actions: string[];
  stop(): Promise<void>;
}

function clientsAt(endpoint: string) {
  const config = { region: REGION, endpoint, credentials: STATIC, maxAttempts: 2 };
  return {
    asg: new AutoScalingClient(config),
    ec2: new EC2Client(config),
    elb: new ElasticLoadBalancingClient(config),
    elbv2: new ElasticLoadBalancingV2Client(config),
    dynamodb: new DynamoDBClient(config),
  };
}

export async function startMoto(opts: { min: number; desired: number }): Promise<MotoWorld> {
  const port = await freePort();
  const moto: ChildProcess = spawn("python3", ["-m", "moto.server", "-H", "127.0.0.1", "-p", String(port)], {
    stdio: "ignore",
  });
  const motoUrl = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    const up = await fetch(`${motoUrl}/moto-api/`).then(
      () => true,
      () => false,
    );
    if (up) break;
    if (i > 150) throw new Error("moto did not start in 30 s");
    await new Promise((r) => setTimeout(r, 200));
  }
  const direct = clientsAt(motoUrl);

  // The account: a launch template, a classic ELB and an ALB with one target group, a group of
  // `desired` instances behind both, and one instance in no group registered with both.
  const subnets = (await direct.ec2.send(new DescribeSubnetsCommand({}))).Subnets ?? [];
  const vpcId = subnets[0]!.VpcId!;
  await direct.ec2.send(
    new CreateLaunchTemplateCommand({
      LaunchTemplateName: "web",
      LaunchTemplateData: { ImageId: "ami-12c6146b", InstanceType: "t3.micro" },
    }),
  );
  const lbName = "web-classic";
  await direct.elb.send(
    new CreateClassicCommand({
      LoadBalancerName: lbName,
      Listeners: [{ Protocol: "HTTP", LoadBalancerPort: 80, InstancePort: 80 }],
      AvailabilityZones: subnets.map((s) => s.AvailabilityZone!),
    }),
  );
  await direct.elb.send(
    new ConfigureHealthCheckCommand({
      LoadBalancerName: lbName,
      HealthCheck: {
        Target: "HTTP:80/health",
        Interval: 5,
        Timeout: 2,
        HealthyThreshold: 2,
        UnhealthyThreshold: 2,
      },
    }),
  );
  const alb = await direct.elbv2.send(
    new CreateLoadBalancerCommand({ Name: "web-alb", Subnets: subnets.map((s) => s.SubnetId!) }),
  );
  const tg = await direct.elbv2.send(
    new CreateTargetGroupCommand({
      Name: "web-tg",
      Protocol: "HTTP",
      Port: 80,
      VpcId: vpcId,
      TargetType: "instance",
      HealthCheckIntervalSeconds: 5,
      HealthCheckTimeoutSeconds: 2,
      HealthyThresholdCount: 2,
    }),
  );
  const tgArn = tg.TargetGroups![0]!.TargetGroupArn!;
  await direct.elbv2.send(
    new ModifyTargetGroupAttributesCommand({
      TargetGroupArn: tgArn,
      Attributes: [{ Key: "deregistration_delay.timeout_seconds", Value: "0" }],
    }),
  );
  await direct.elbv2.send(
    new CreateListenerCommand({
      LoadBalancerArn: alb.LoadBalancers![0]!.LoadBalancerArn!,
      Protocol: "HTTP",
      Port: 80,
      DefaultActions: [{ Type: "forward", TargetGroupArn: tgArn }],
    }),
  );
  const group = "web";
  await direct.asg.send(
    new CreateAutoScalingGroupCommand({
      AutoScalingGroupName: group,
      LaunchTemplate: { LaunchTemplateName: "web", Version: "$Default" },
      MinSize: opts.min,
      MaxSize: 4,
      DesiredCapacity: opts.desired,
      VPCZoneIdentifier: subnets.map((s) => s.SubnetId).join(","),
      LoadBalancerNames: [lbName],
      TargetGroupARNs: [tgArn],
      HealthCheckType: "ELB",
    }),
  );
  const lone = await direct.ec2.send(
    new RunInstancesCommand({
      ImageId: "ami-12c6146b",
      MinCount: 1,
      MaxCount: 1,
      SubnetId: subnets[0]!.SubnetId,
    }),
  );
  const loneInstance = lone.Instances![0]!.InstanceId!;
  await direct.elb.send(
    new RegisterInstancesWithLoadBalancerCommand({
      LoadBalancerName: lbName,
      Instances: [{ InstanceId: loneInstance }],
    }),
  );
  await direct.elbv2.send(
    new RegisterTargetsCommand({ TargetGroupArn: tgArn, Targets: [{ Id: loneInstance, Port: 8080 }] }),
  );

  // Where moto is not AWS, the world is adapted here, never the agent:
  // - AWS deregisters an instance entering Standby from the group's load balancers and target
  //   groups, and registers it again on its way back to InService (Auto Scaling User Guide,
  //   "Temporarily remove instances from your Auto Scaling group"); moto only changes the state.
  // - moto has no DescribeInstanceRefreshes; AWS answers a group with none with an empty list.
  const actions: string[] = [];
  const proxy: Server = createServer(async (req, res) => {
    const body = await readBody(req);
    const params = new URLSearchParams(body);
    // DynamoDB's JSON protocol names its action in a header, the query APIs in the body.
    const target = req.headers["x-amz-target"];
    const action =
      typeof target === "string" ? (target.split(".").pop() ?? "") : (params.get("Action") ?? "");
    actions.push(action);
    if (action === "DescribeInstanceRefreshes") {
      res
        .writeHead(200, { "content-type": "text/xml" })
        .end(
          `<DescribeInstanceRefreshesResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/"><DescribeInstanceRefreshesResult><InstanceRefreshes/></DescribeInstanceRefreshesResult><ResponseMetadata><RequestId>moto-proxy</RequestId></ResponseMetadata></DescribeInstanceRefreshesResponse>`,
        );
      return;
    }
    const upstream = request(
      `${motoUrl}${req.url ?? "/"}`,
      { method: req.method, headers: req.headers },
      (up) => {
        const chunks: Buffer[] = [];
        up.on("data", (c: Buffer) => chunks.push(c));
        up.on("end", async () => {
          if (up.statusCode === 200 && (action === "EnterStandby" || action === "ExitStandby")) {
            const ids = [...params].filter(([k]) => k.startsWith("InstanceIds.member.")).map(([, v]) => v);
            await standbyAsAws(action, ids);
          }
          res.writeHead(up.statusCode ?? 500, up.headers).end(Buffer.concat(chunks));
        });
      },
    );
    upstream.on("error", () => res.destroy());
    upstream.end(body);
  });
  async function standbyAsAws(action: string, ids: string[]) {
    const Instances = ids.map((InstanceId) => ({ InstanceId }));
    const Targets = ids.map((Id) => ({ Id }));
    if (action === "EnterStandby") {
      await direct.elb.send(
        new DeregisterInstancesFromLoadBalancerCommand({ LoadBalancerName: lbName, Instances }),
      );
      await direct.elbv2.send(new DeregisterTargetsCommand({ TargetGroupArn: tgArn, Targets }));
    } else {
      await direct.elb.send(
        new RegisterInstancesWithLoadBalancerCommand({ LoadBalancerName: lbName, Instances }),
      );
      await direct.elbv2.send(new RegisterTargetsCommand({ TargetGroupArn: tgArn, Targets }));
    }
  }
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;

  const imdsServers: ImdsServer[] = [];
  const groupInstances = async () =>
    (
      (await direct.asg.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [group] })))
        .AutoScalingGroups?.[0]?.Instances ?? []
    ).map((i) => i.InstanceId!);

  return {
    clients: direct,
    group,
    groupInstances,
    tgArn,
    lbName,
    loneInstance,
    actions,
    async envFor(instanceId) {
      const az = subnets[0]!.AvailabilityZone!;
      // The metadata service's view of this one instance; credentials come from its instance profile.
      const world = {
        region: REGION,
        accountId: "123456789012",
        instances: new Map([
          [
            instanceId,
            {
              id: instanceId,
              az,
              privateIp: "10.0.0.10",
              instanceType: "t3.micro",
              role: "balanced-instance-role",
              lifecycleState: "InService",
              launchTime: Date.now(),
              imdsTokensRequired: true,
              notices: { maintenance: [] },
            },
          ],
        ]),
      } as unknown as World;
      // Instance-profile credentials always carry a session token (moto accepts any keys).
      const profile = { ...STATIC, sessionToken: "moto-session-token" };
      const imds = new ImdsServer(
        instanceId,
        () => world,
        new FaultBook(Math.random),
        profile,
        () => {},
      );
      imdsServers.push(imds);
      const imdsUrl = await imds.listen();
      return {
        AWS_REGION: REGION,
        AWS_ENDPOINT_URL_AUTO_SCALING: proxyUrl,
        AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING: proxyUrl,
        AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2: proxyUrl,
        AWS_ENDPOINT_URL_EC2: proxyUrl,
        AWS_ENDPOINT_URL_DYNAMODB: proxyUrl,
        AWS_EC2_METADATA_SERVICE_ENDPOINT: imdsUrl,
      };
    },
    async stop() {
      await Promise.all(imdsServers.map((s) => s.close()));
      proxy.closeAllConnections();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
      moto.kill("SIGTERM");
    },
  };
}
