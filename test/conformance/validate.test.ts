import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadModel } from "./models";
import { BOTOCORE } from "./recorder";
import { Checker } from "./validate";

/** The checker itself: each kind of mistake it exists to catch, caught (so a pass means something). */
const skip = "missing" in BOTOCORE ? BOTOCORE.missing : false;

describe("the conformance checker catches what it should", { skip }, () => {
  const dir = "dir" in BOTOCORE ? BOTOCORE.dir : "";
  const asg = () => new Checker(loadModel(dir, "autoscaling"));
  const ec2 = () => new Checker(loadModel(dir, "ec2"));
  const NS = "http://autoscaling.amazonaws.com/doc/2011-01-01/";
  const answer = (action: string, result: string) =>
    `<${action}Response xmlns="${NS}"><${action}Result>${result}</${action}Result><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></${action}Response>`;
  const instance = (state: string, extra = "") =>
    `<member><InstanceId>i-1</InstanceId><AutoScalingGroupName>web</AutoScalingGroupName><AvailabilityZone>us-east-1a</AvailabilityZone><LifecycleState>${state}</LifecycleState><HealthStatus>HEALTHY</HealthStatus><ProtectedFromScaleIn>false</ProtectedFromScaleIn>${extra}</member>`;

  it("a conforming answer and request pass", () => {
    const c = asg();
    assert.deepEqual(
      c.checkResponse(
        "DescribeAutoScalingInstances",
        200,
        answer(
          "DescribeAutoScalingInstances",
          `<AutoScalingInstances>${instance("Standby")}</AutoScalingInstances>`,
        ),
      ),
      [],
    );
    assert.deepEqual(
      c.checkRequest(
        "Action=EnterStandby&Version=2011-01-01&AutoScalingGroupName=web&InstanceIds.member.1=i-1&ShouldDecrementDesiredCapacity=true",
      ).problems,
      [],
    );
  });

  const cases: [string, string[], RegExp][] = [
    [
      "an enum value AWS never writes",
      [
        answer(
          "DescribeAutoScalingGroups",
          "<AutoScalingGroups><member><Instances><member><LifecycleState>OutOfService</LifecycleState></member></Instances></member></AutoScalingGroups>",
        ),
      ],
      /"OutOfService" is not one of/,
    ],
    [
      "an element the shape does not have",
      [
        answer(
          "DescribeAutoScalingInstances",
          `<AutoScalingInstances>${instance("Standby", "<Zone>a</Zone>")}</AutoScalingInstances>`,
        ),
      ],
      /<Zone> is no member/,
    ],
    [
      "a required member left out",
      [
        answer(
          "DescribeAutoScalingInstances",
          `<AutoScalingInstances><member><InstanceId>i-1</InstanceId></member></AutoScalingInstances>`,
        ),
      ],
      /required AutoScalingGroupName missing/,
    ],
    [
      "a list without its <member> wrapper",
      [
        answer(
          "DescribeAutoScalingInstances",
          `<AutoScalingInstances><item><InstanceId>i-1</InstanceId></item></AutoScalingInstances>`,
        ),
      ],
      /list element <item>, not <member>/,
    ],
    [
      "a number that is not one",
      [
        answer(
          "DescribeAutoScalingGroups",
          `<AutoScalingGroups><member><MinSize>one</MinSize></member></AutoScalingGroups>`,
        ),
      ],
      /"one" is not an integer/,
    ],
    [
      "a malformed timestamp",
      [
        answer(
          "DescribeScalingActivities",
          `<Activities><member><StartTime>yesterday</StartTime></member></Activities>`,
        ),
      ],
      /not an ISO 8601 timestamp/,
    ],
    ["the wrong namespace", [answer("DescribeTags", "<Tags/>").replace(NS, "http://example.com/")], /xmlns/],
  ];
  for (const [name, [xml], expected] of cases)
    it(`answer: ${name}`, () => {
      const action = /^<(\w+)Response/.exec(xml!)![1]!;
      assert.match(asg().checkResponse(action, 200, xml!).join("\n"), expected);
    });

  it("an error code the operation does not document, and a documented one with the wrong status", () => {
    const err = (code: string, type = "Sender") =>
      `<ErrorResponse xmlns="${NS}"><Error><Type>${type}</Type><Code>${code}</Code><Message>m</Message></Error><RequestId>r</RequestId></ErrorResponse>`;
    assert.match(
      asg().checkResponse("EnterStandby", 400, err("InstanceNotFound")).join(),
      /neither documented/,
    );
    assert.match(
      asg().checkResponse("DescribeTags", 500, err("InvalidNextToken")).join(),
      /HTTP 500, the model says 400/,
    );
    assert.deepEqual(asg().checkResponse("EnterStandby", 400, err("ValidationError")), []);
    assert.match(
      ec2()
        .checkResponse(
          "DescribeInstances",
          500,
          "<Response><Errors><Error><Code>InternalFailure</Code><Message>m</Message></Error></Errors><RequestID>r</RequestID></Response>",
        )
        .join(),
      /not one EC2 documents/,
    );
  });

  it("requests: an unknown parameter, a list without .member, a missing required value, too many values", () => {
    const c = asg();
    assert.match(
      c
        .checkRequest(
          "Action=EnterStandby&Version=2011-01-01&AutoScalingGroupName=web&InstanceId=i-1&ShouldDecrementDesiredCapacity=true",
        )
        .problems.join(),
      /no member "InstanceId"/,
    );
    assert.match(
      c
        .checkRequest(
          "Action=EnterStandby&Version=2011-01-01&AutoScalingGroupName=web&InstanceIds.1=i-1&ShouldDecrementDesiredCapacity=true",
        )
        .problems.join(),
      /wants "\.member\.N"/,
    );
    assert.match(
      c.checkRequest("Action=EnterStandby&Version=2011-01-01&InstanceIds.member.1=i-1").problems.join(),
      /required AutoScalingGroupName missing/,
    );
    const names = Array.from({ length: 21 }, (_, i) => `LoadBalancerNames.member.${i + 1}=lb${i}`).join("&");
    assert.match(
      new Checker(loadModel(dir, "elb"))
        .checkRequest(`Action=DescribeTags&Version=2012-06-01&${names}`)
        .problems.join(),
      /21 elements, at most 20/,
    );
    assert.match(
      ec2()
        .checkRequest("Action=DescribeInstances&Version=2016-11-15&Filters.member.1.Name=x")
        .problems.join(),
      /no member "Filters"/,
    );
    assert.deepEqual(
      ec2().checkRequest(
        "Action=DescribeInstances&Version=2016-11-15&Filter.1.Name=instance-id&Filter.1.Value.1=i-1",
      ).problems,
      [],
    );
  });
});
