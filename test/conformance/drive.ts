import * as asg from "@aws-sdk/client-auto-scaling";
import * as dynamodb from "@aws-sdk/client-dynamodb";
import * as ec2 from "@aws-sdk/client-ec2";
import * as elb from "@aws-sdk/client-elastic-load-balancing";
import * as elbv2 from "@aws-sdk/client-elastic-load-balancing-v2";
import { clientsFor } from "../helpers/clients";
import type { HostInfo } from "../sim/server";
import type { ModelledService } from "./models";

/**
 * Calls the simulator's actions through the real SDK with inputs a caller might send, valid and
 * not: every action it implements at least once successfully, and the mistakes AWS answers with a
 * documented error (unknown names, missing required values, out-of-range sizes).
 */
export interface Call {
  service: ModelledService;
  action: string;
  input: Record<string, unknown>;
}

// biome-ignore lint/suspicious/noExplicitAny: the SDK's command classes, looked up by name
type CommandClass = new (input: any) => any;
const MODULES: Record<ModelledService, Record<string, unknown>> = {
  autoscaling: asg,
  elb,
  elbv2,
  ec2,
  dynamodb,
};

/** The SDK's command class for an action (classic ELB's share names with ELBv2's, in their own module). */
export function commandFor(service: ModelledService, action: string): CommandClass {
  const c = MODULES[service][`${action}Command`];
  if (typeof c !== "function") throw new Error(`no ${action}Command in the ${service} client`);
  return c as CommandClass;
}

/** Sends each call, ignoring its outcome: the recorder keeps what crossed the wire. */
export async function drive(host: HostInfo, calls: Call[]): Promise<void> {
  const c = clientsFor(host, { maxAttempts: 1 });
  const clients = {
    autoscaling: c.asg,
    elb: c.elb,
    elbv2: c.elbv2,
    ec2: c.ec2,
    dynamodb: c.dynamodb,
  } as unknown as Record<ModelledService, { send(command: unknown): Promise<unknown> }>;
  for (const call of calls) {
    const Command = commandFor(call.service, call.action);
    await clients[call.service].send(new Command(call.input)).catch(() => undefined);
  }
}

const ids = (n: number, prefix = "i-0f") =>
  Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(15, "0")}`);

/** Valid calls on the conformance fleet (see the test), then calls AWS refuses. */
export function everyAction(w: {
  group: string;
  instance: string;
  other: string;
  held: string;
  hook: string;
  lb: string;
  tgArn: string;
  tgArnUnmanaged: string;
}): Call[] {
  const a = (action: string, input: Record<string, unknown> = {}): Call => ({
    service: "autoscaling",
    action,
    input,
  });
  const l = (action: string, input: Record<string, unknown>): Call => ({ service: "elb", action, input });
  const v = (action: string, input: Record<string, unknown>): Call => ({ service: "elbv2", action, input });
  const e = (action: string, input: Record<string, unknown>): Call => ({ service: "ec2", action, input });
  const groupTag = { ResourceId: w.group, ResourceType: "auto-scaling-group", PropagateAtLaunch: false };
  return [
    // Auto Scaling
    a("DescribeAutoScalingInstances", { InstanceIds: [w.instance] }),
    a("DescribeAutoScalingInstances", { MaxRecords: 2 }),
    a("DescribeAutoScalingGroups", { AutoScalingGroupNames: [w.group] }),
    a("DescribeAutoScalingGroups", { Filters: [{ Name: "tag-key", Values: ["Name"] }], MaxRecords: 100 }),
    a("DescribeScalingActivities", { AutoScalingGroupName: w.group, MaxRecords: 100 }),
    a("DescribeScalingActivities", { AutoScalingGroupName: "no-such-group" }),
    a("DescribeInstanceRefreshes", { AutoScalingGroupName: w.group }),
    a("DescribeTrafficSources", { AutoScalingGroupName: w.group }),
    a("DescribeLoadBalancers", { AutoScalingGroupName: w.group }),
    a("DescribeLoadBalancerTargetGroups", { AutoScalingGroupName: w.group }),
    a("CreateOrUpdateTags", { Tags: [{ ...groupTag, Key: "balanced:conformance", Value: "x" }] }),
    a("DescribeTags", { Filters: [{ Name: "auto-scaling-group", Values: [w.group] }] }),
    a("DescribeTags", { Filters: [{ Name: "no-such-filter", Values: ["x"] }] }),
    a("DeleteTags", { Tags: [{ ...groupTag, Key: "balanced:conformance" }] }),
    a("CreateOrUpdateTags", { Tags: [{ ...groupTag, Key: "aws:reserved", Value: "x" }] }),
    a("SetInstanceProtection", {
      AutoScalingGroupName: w.group,
      InstanceIds: [w.instance],
      ProtectedFromScaleIn: false,
    }),
    a("SuspendProcesses", { AutoScalingGroupName: w.group, ScalingProcesses: ["AZRebalance"] }),
    a("ResumeProcesses", { AutoScalingGroupName: w.group, ScalingProcesses: ["AZRebalance"] }),
    a("SuspendProcesses", { AutoScalingGroupName: w.group, ScalingProcesses: ["NoSuchProcess"] }),
    a("DescribeLifecycleHooks", { AutoScalingGroupName: w.group }),
    a("RecordLifecycleActionHeartbeat", {
      AutoScalingGroupName: w.group,
      LifecycleHookName: w.hook,
      InstanceId: w.held,
    }),
    a("CompleteLifecycleAction", {
      AutoScalingGroupName: w.group,
      LifecycleHookName: w.hook,
      InstanceId: w.held,
      LifecycleActionResult: "CONTINUE",
    }),
    a("CompleteLifecycleAction", {
      AutoScalingGroupName: w.group,
      LifecycleHookName: w.hook,
      InstanceId: w.instance,
      LifecycleActionResult: "CONTINUE",
    }),
    a("UpdateAutoScalingGroup", { AutoScalingGroupName: w.group, MinSize: 1 }),
    a("UpdateAutoScalingGroup", { AutoScalingGroupName: w.group, MinSize: 10, MaxSize: 2 }),
    a("EnterStandby", {
      AutoScalingGroupName: w.group,
      InstanceIds: [w.other],
      ShouldDecrementDesiredCapacity: true,
    }),
    a("EnterStandby", {
      AutoScalingGroupName: w.group,
      InstanceIds: [w.other],
      ShouldDecrementDesiredCapacity: true,
    }),
    a("ExitStandby", { AutoScalingGroupName: w.group, InstanceIds: [w.instance] }),
    // Classic ELB
    l("DescribeLoadBalancers", { LoadBalancerNames: [w.lb] }),
    l("DescribeLoadBalancers", { LoadBalancerNames: ["no-such-lb"] }),
    l("DescribeLoadBalancers", { PageSize: 400 }),
    l("DescribeInstanceHealth", { LoadBalancerName: w.lb }),
    l("DescribeInstanceHealth", {
      LoadBalancerName: w.lb,
      Instances: [{ InstanceId: "i-0ffffffffffffffff" }],
    }),
    l("DescribeLoadBalancerAttributes", { LoadBalancerName: w.lb }),
    l("DeregisterInstancesFromLoadBalancer", {
      LoadBalancerName: w.lb,
      Instances: [{ InstanceId: w.instance }],
    }),
    l("RegisterInstancesWithLoadBalancer", {
      LoadBalancerName: w.lb,
      Instances: [{ InstanceId: w.instance }],
    }),
    l("AddTags", { LoadBalancerNames: [w.lb], Tags: [{ Key: "balanced:conformance", Value: "x" }] }),
    l("DescribeTags", { LoadBalancerNames: [w.lb] }),
    l("RemoveTags", { LoadBalancerNames: [w.lb], Tags: [{ Key: "balanced:conformance" }] }),
    l("DescribeTags", { LoadBalancerNames: ["no-such-lb"] }),
    // ELBv2
    v("DescribeTargetGroups", { TargetGroupArns: [w.tgArn] }),
    v("DescribeTargetGroups", { PageSize: 400 }),
    v("DescribeTargetGroups", { Names: ["no-such-tg"] }),
    v("DescribeTargetGroupAttributes", { TargetGroupArn: w.tgArn }),
    v("DescribeTargetHealth", { TargetGroupArn: w.tgArn }),
    v("DescribeTargetHealth", { TargetGroupArn: w.tgArn, Targets: [{ Id: w.instance }] }),
    v("DescribeTargetHealth", { TargetGroupArn: w.tgArn, Targets: [{ Id: "i-0ffffffffffffffff" }] }),
    v("DeregisterTargets", { TargetGroupArn: w.tgArnUnmanaged, Targets: [{ Id: w.instance, Port: 8080 }] }),
    v("RegisterTargets", { TargetGroupArn: w.tgArnUnmanaged, Targets: [{ Id: w.instance, Port: 8080 }] }),
    v("RegisterTargets", { TargetGroupArn: w.tgArnUnmanaged, Targets: [{ Id: "i-0ffffffffffffffff" }] }),
    v("AddTags", { ResourceArns: [w.tgArn], Tags: [{ Key: "balanced:conformance", Value: "x" }] }),
    v("DescribeTags", { ResourceArns: [w.tgArn] }),
    v("RemoveTags", { ResourceArns: [w.tgArn], TagKeys: ["balanced:conformance"] }),
    v("DescribeTargetHealth", { TargetGroupArn: `${w.tgArn}0` }),
    // EC2
    e("DescribeInstances", { InstanceIds: [w.instance, w.other] }),
    e("DescribeInstances", { Filters: [{ Name: "instance-id", Values: [w.instance] }] }),
    e("DescribeInstances", { Filters: [{ Name: "instance-id", Values: ids(201) }] }),
    e("DescribeInstances", { InstanceIds: ["i-0ffffffffffffffff"] }),
    e("DescribeInstanceStatus", { InstanceIds: [w.instance], IncludeAllInstances: true }),
  ];
}

/**
 * DynamoDB's actions as the lock uses them (src/aws/lock.ts), then what DynamoDB refuses, on
 * `table`: an ACTIVE table keyed lockKey, as `balanced lock create` makes it.
 */
export function everyLockAction(w: { table: string; instance: string; other: string }): Call[] {
  const d = (action: string, input: Record<string, unknown>): Call => ({
    service: "dynamodb",
    action,
    input,
  });
  const key = { lockKey: { S: "group:conformance" } };
  const second = `${w.table}-second`;
  return [
    d("DescribeTable", { TableName: w.table }),
    d("DescribeTable", { TableName: "no-such-table" }),
    d("DescribeTimeToLive", { TableName: w.table }),
    d("GetItem", { TableName: w.table, Key: key, ConsistentRead: true }),
    d("PutItem", {
      TableName: w.table,
      Item: { ...key, holder: { S: w.instance }, nonce: { S: "n1" }, version: { N: "1" }, ttl: { N: "1" } },
      ConditionExpression: "attribute_not_exists(lockKey)",
    }),
    d("PutItem", {
      TableName: w.table,
      Item: { ...key, holder: { S: w.other }, version: { N: "1" } },
      ConditionExpression: "attribute_not_exists(lockKey)",
      ReturnValuesOnConditionCheckFailure: "ALL_OLD",
    }),
    d("GetItem", { TableName: w.table, Key: key, ConsistentRead: true }),
    d("UpdateItem", {
      TableName: w.table,
      Key: key,
      UpdateExpression: "SET expiresAt = :exp, version = version + :one",
      ConditionExpression: "nonce = :nonce",
      ExpressionAttributeValues: { ":exp": { N: "2" }, ":one": { N: "1" }, ":nonce": { S: "n1" } },
      ReturnValues: "ALL_NEW",
    }),
    d("UpdateItem", {
      TableName: w.table,
      Key: key,
      UpdateExpression: "SET expiresAt = :exp",
      ExpressionAttributeValues: { ":exp": { N: "2" }, ":unused": { N: "1" } },
    }),
    d("DeleteItem", {
      TableName: w.table,
      Key: key,
      ConditionExpression: "nonce = :nonce",
      ExpressionAttributeValues: { ":nonce": { S: "n1" } },
      ReturnValues: "ALL_OLD",
    }),
    d("DeleteItem", {
      TableName: w.table,
      Key: key,
      ConditionExpression: "nonce = :nonce",
      ExpressionAttributeValues: { ":nonce": { S: "n1" } },
    }),
    d("GetItem", { TableName: w.table, Key: { holder: { S: "x" } } }),
    d("CreateTable", {
      TableName: second,
      AttributeDefinitions: [{ AttributeName: "lockKey", AttributeType: "S" }],
      KeySchema: [{ AttributeName: "lockKey", KeyType: "HASH" }],
      BillingMode: "PAY_PER_REQUEST",
    }),
    d("UpdateTimeToLive", {
      TableName: second,
      TimeToLiveSpecification: { Enabled: true, AttributeName: "ttl" },
    }),
    d("GetItem", { TableName: second, Key: key }),
    d("CreateTable", {
      TableName: w.table,
      AttributeDefinitions: [{ AttributeName: "lockKey", AttributeType: "S" }],
      KeySchema: [{ AttributeName: "lockKey", KeyType: "HASH" }],
      BillingMode: "PAY_PER_REQUEST",
    }),
  ];
}
