import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadModel } from "./models";
import { BOTOCORE } from "./recorder";
import { Checker } from "./validate";
import { JsonChecker } from "./validate-json";

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

describe("the JSON checker (DynamoDB) catches what it should", { skip }, () => {
  const dir = "dir" in BOTOCORE ? BOTOCORE.dir : "";
  const ddb = () => new JsonChecker(loadModel(dir, "dynamodb"));
  const ERR = "com.amazonaws.dynamodb.v20120810#";
  const item = { lockKey: { S: "group:web" }, version: { N: "3" } };

  it("a conforming request, answer and error pass", () => {
    const c = ddb();
    const x = (request: unknown, status: number, response: unknown) =>
      c.checkExchange({
        action: "PutItem",
        request: JSON.stringify(request),
        status,
        response: JSON.stringify(response),
      });
    const put = {
      TableName: "balanced-locks",
      Item: item,
      ConditionExpression: "attribute_not_exists(lockKey)",
    };
    assert.deepEqual(x(put, 200, {}), []);
    assert.deepEqual(
      x(put, 500, { __type: `${ERR}InternalServerError`, message: "Internal server error" }),
      [],
    );
    assert.deepEqual(
      x(put, 400, {
        __type: `${ERR}ConditionalCheckFailedException`,
        message: "The conditional request failed",
        Item: item,
      }),
      [],
    );
  });

  const cases: [string, (c: JsonChecker) => string[], RegExp][] = [
    [
      "a member the shape does not have",
      (c) => c.checkRequest("GetItem", '{"TableName":"t12","Key":{},"Strong":true}'),
      /"Strong" is no member of GetItemInput/,
    ],
    [
      "a required member missing",
      (c) => c.checkRequest("GetItem", '{"TableName":"t12"}'),
      /required Key missing/,
    ],
    [
      "a boolean given as text",
      (c) => c.checkRequest("GetItem", '{"TableName":"t12","Key":{},"ConsistentRead":"true"}'),
      /ConsistentRead: a boolean/,
    ],

    [
      "an attribute value of two kinds",
      (c) => c.checkResponse("GetItem", 200, '{"Item":{"k":{"S":"a","N":"1"}}}'),
      /exactly one member/,
    ],
    ["an empty table name", (c) => c.checkRequest("DescribeTable", '{"TableName":""}'), /length 0 < min 1/],
    [
      "an enum value AWS never writes",
      (c) => c.checkResponse("DescribeTable", 200, '{"Table":{"TableStatus":"READY"}}'),
      /"READY" is not one of/,
    ],
    [
      "a timestamp as text, not epoch seconds",
      (c) => c.checkResponse("DescribeTable", 200, '{"Table":{"CreationDateTime":"2026-12-02T00:00:00Z"}}'),
      /epoch seconds/,
    ],
    [
      "an error the operation does not document",
      (c) =>
        c.checkResponse(
          "GetItem",
          400,
          `{"__type":"${ERR}ConditionalCheckFailedException","message":"x"}`.replace(
            "ConditionalCheckFailedException",
            "TableBusyException",
          ),
        ),
      /TableBusyException is neither documented/,
    ],
    [
      "a documented error with the wrong status",
      (c) => c.checkResponse("GetItem", 403, `{"__type":"${ERR}UnrecognizedClientException","message":"x"}`),
      /with HTTP 403, AWS uses 400/,
    ],
    [
      "a server fault answered as the client's",
      (c) => c.checkResponse("GetItem", 400, `{"__type":"${ERR}InternalServerError","message":"x"}`),
      /InternalServerError with HTTP 400, AWS uses 500/,
    ],
    [
      "an error without its namespace",
      (c) => c.checkResponse("GetItem", 400, '{"__type":"ResourceNotFoundException","message":"x"}'),
      /is not "com.amazonaws.dynamodb.v20120810#<code>"/,
    ],
    ["an answer that is not JSON", (c) => c.checkResponse("GetItem", 200, "<xml/>"), /not JSON/],
  ];
  for (const [what, check, expected] of cases)
    it(`catches ${what}`, () => {
      const problems = check(ddb());
      assert.ok(
        problems.some((p) => expected.test(p)),
        `expected ${expected}, got ${JSON.stringify(problems)}`,
      );
    });
});
