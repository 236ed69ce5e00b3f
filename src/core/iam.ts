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
  "elasticloadbalancing:DescribeLoadBalancers",
  "elasticloadbalancing:DescribeLoadBalancerAttributes",
  "elasticloadbalancing:DescribeInstanceHealth",
  "elasticloadbalancing:DescribeTargetGroups",
  "elasticloadbalancing:DescribeTargetGroupAttributes",
  "elasticloadbalancing:DescribeTargetHealth",
  "ec2:DescribeInstances",
] as const;

/** The changes balanced makes; Auto Scaling lets these be scoped to groups. */
export const GROUP_ACTIONS = [
  "autoscaling:EnterStandby",
  "autoscaling:ExitStandby",
  "autoscaling:UpdateAutoScalingGroup",
  "autoscaling:CreateOrUpdateTags",
  "autoscaling:DeleteTags",
] as const;

export type IamAction = (typeof READ_ACTIONS)[number] | (typeof GROUP_ACTIONS)[number];

/**
 * The least-privilege policy. Describe calls support no resource-level permissions, so they need
 * "*"; the changes are scoped to the named groups when given.
 */
export function iamPolicy(groups: string[]) {
  const resources = groups.length
    ? groups.map((g) => `arn:aws:autoscaling:*:*:autoScalingGroup:*:autoScalingGroupName/${g}`)
    : ["*"];
  return {
    Version: "2012-10-17",
    Statement: [
      { Sid: "BalancedReads", Effect: "Allow", Action: [...READ_ACTIONS], Resource: "*" },
      {
        Sid: "BalancedGroupChanges",
        Effect: "Allow",
        Action: [...GROUP_ACTIONS],
        Resource: resources.length === 1 ? resources[0] : resources,
      },
    ],
  };
}
