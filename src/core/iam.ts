/**
 * Every AWS API action balanced may call, once. `awsCall` only accepts these names, so the printed
 * policy cannot fall behind the code; a test also checks it against what the simulator saw called.
 */
export const READ_ACTIONS = [
  "autoscaling:DescribeAutoScalingInstances",
  "autoscaling:DescribeAutoScalingGroups",
  "autoscaling:DescribeScalingActivities",
  "autoscaling:DescribeInstanceRefreshes",
  "autoscaling:DescribeTags",
  "autoscaling:DescribeLifecycleHooks",
  "elasticloadbalancing:DescribeLoadBalancers",
  "elasticloadbalancing:DescribeLoadBalancerAttributes",
  "elasticloadbalancing:DescribeInstanceHealth",
  "elasticloadbalancing:DescribeTargetGroups",
  "elasticloadbalancing:DescribeTargetGroupAttributes",
  "elasticloadbalancing:DescribeTargetHealth",
  "elasticloadbalancing:DescribeTags",
  "ec2:DescribeInstances",
] as const;

/** The changes balanced makes; Auto Scaling lets these be scoped to groups. */
export const GROUP_ACTIONS = [
  "autoscaling:EnterStandby",
  "autoscaling:ExitStandby",
  "autoscaling:UpdateAutoScalingGroup",
  "autoscaling:CreateOrUpdateTags",
  "autoscaling:DeleteTags",
  "autoscaling:CompleteLifecycleAction",
  "autoscaling:RecordLifecycleActionHeartbeat",
] as const;

/**
 * The changes balanced makes to load balancers themselves: for hosts in no Auto Scaling group, and
 * for a group's host on the load balancers it is named for that the group does not manage.
 */
export const LOAD_BALANCER_ACTIONS = [
  "elasticloadbalancing:DeregisterInstancesFromLoadBalancer",
  "elasticloadbalancing:RegisterInstancesWithLoadBalancer",
  "elasticloadbalancing:DeregisterTargets",
  "elasticloadbalancing:RegisterTargets",
] as const;

/**
 * Every host records on each of its load balancers that it is out, and takes the turn there
 * (src/core/removals.ts): tags whose keys begin `balanced:`, and no others (the condition below;
 * both ELB APIs take aws:TagKeys on AddTags and RemoveTags, per the Service Authorization Reference).
 */
export const LOAD_BALANCER_TAG_ACTIONS = [
  "elasticloadbalancing:AddTags",
  "elasticloadbalancing:RemoveTags",
] as const;

/** The lock's item calls (`--lock dynamodb:TABLE`), scoped to that table. */
export const LOCK_ACTIONS = [
  "dynamodb:GetItem",
  "dynamodb:PutItem",
  "dynamodb:UpdateItem",
  "dynamodb:DeleteItem",
] as const;

/** `balanced lock create`: an operator's, not the instance role's. */
export const LOCK_ADMIN_ACTIONS = [
  "dynamodb:CreateTable",
  "dynamodb:DescribeTable",
  "dynamodb:UpdateTimeToLive",
  "dynamodb:DescribeTimeToLive",
] as const;

export type IamAction =
  | (typeof READ_ACTIONS)[number]
  | (typeof GROUP_ACTIONS)[number]
  | (typeof LOAD_BALANCER_ACTIONS)[number]
  | (typeof LOAD_BALANCER_TAG_ACTIONS)[number]
  | (typeof LOCK_ACTIONS)[number]
  | (typeof LOCK_ADMIN_ACTIONS)[number];

export interface PolicyScope {
  /** Scope the group changes to these Auto Scaling groups. */
  groups: string[];
  /** Add the load balancer changes a host in no Auto Scaling group needs ... */
  standalone: boolean;
  /** ... scoped to these, when named (naming any adds them: a group's host leaves those itself). */
  loadBalancerNames: string[];
  targetGroupArns: string[];
  /** `--lock dynamodb:TABLE`: the lock's item calls on that table. */
  lockTable?: string | undefined;
}

const one = (resources: string[]) => (resources.length === 1 ? resources[0] : resources);

/**
 * The least-privilege policy. Describe calls support no resource-level permissions, so they need
 * "*"; the changes are scoped to the named groups and load balancers when given.
 */
export function iamPolicy(scope: PolicyScope) {
  const groups = scope.groups.length
    ? scope.groups.map((g) => `arn:aws:autoscaling:*:*:autoScalingGroup:*:autoScalingGroupName/${g}`)
    : ["*"];
  const loadBalancers =
    scope.loadBalancerNames.length || scope.targetGroupArns.length
      ? [
          ...scope.loadBalancerNames.map((n) => `arn:aws:elasticloadbalancing:*:*:loadbalancer/${n}`),
          ...scope.targetGroupArns,
        ]
      : ["*"];
  return {
    Version: "2012-10-17",
    Statement: [
      { Sid: "BalancedReads", Effect: "Allow", Action: [...READ_ACTIONS], Resource: "*" },
      { Sid: "BalancedGroupChanges", Effect: "Allow", Action: [...GROUP_ACTIONS], Resource: one(groups) },
      ...(scope.standalone || loadBalancers[0] !== "*"
        ? [
            {
              Sid: "BalancedLoadBalancerChanges",
              Effect: "Allow",
              Action: [...LOAD_BALANCER_ACTIONS],
              Resource: one(loadBalancers),
            },
          ]
        : []),
      {
        Sid: "BalancedLoadBalancerRecords",
        Effect: "Allow",
        Action: [...LOAD_BALANCER_TAG_ACTIONS],
        // A group's host records on the group's load balancers too, which only the group names.
        Resource: scope.standalone ? one(loadBalancers) : "*",
        Condition: { "ForAllValues:StringLike": { "aws:TagKeys": ["balanced:*"] } },
      },
      ...(scope.lockTable
        ? [
            {
              Sid: "BalancedLock",
              Effect: "Allow",
              Action: [...LOCK_ACTIONS],
              Resource: `arn:aws:dynamodb:*:*:table/${scope.lockTable}`,
            },
          ]
        : []),
    ],
  };
}
