#!/usr/bin/env bash
# Deploys template.yaml's data plane (table, queues, event bus; DeployFunctions=false) to the local
# LocalStack with SAM, writes the stack outputs to .local/stack-<STACK>.env and checks the resources.
# Usage: infra/local/deploy.sh [STACK_NAME]        (default cobranca-local; port: LOCALSTACK_PORT, default 4566)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LOCAL="$REPO/.local"
STACK="${1:-cobranca-local}"
PORT="${LOCALSTACK_PORT:-4566}"
TOOLS="$LOCAL/venv-tools"
if [ "$PORT" = 4566 ]; then SUFFIX=""; else SUFFIX="-$PORT"; fi
ENV_FILE="$LOCAL/stack-$STACK$SUFFIX.env"   # another LocalStack port gets its own file
# Stage names the event bus (cobranca-<Stage>), so each local stack gets its own: cobranca-local -> local,
# cobranca-e2e -> e2e, other names as they are. Override with COBRANCA_LOCAL_STAGE.
STAGE="${COBRANCA_LOCAL_STAGE:-${STACK#cobranca-}}"

log() { printf '[deploy] %s\n' "$*"; }
die() { printf '[deploy] ERROR: %s\n' "$*" >&2; exit 1; }

[[ "$STACK" =~ ^[A-Za-z][A-Za-z0-9-]{0,127}$ ]] || die "invalid stack name: $STACK"
[[ "$STAGE" =~ ^[a-z0-9][a-z0-9-]{0,31}$ ]] || die "stage '$STAGE' (from stack name) must be lowercase alnum/dash; set COBRANCA_LOCAL_STAGE"

[ -x "$TOOLS/bin/sam" ] || die "$TOOLS missing: run bash infra/local/install.sh"
curl -fsS --max-time 2 "http://127.0.0.1:$PORT/_localstack/health" >/dev/null 2>&1 \
  || die "LocalStack is not answering on port $PORT: run bash infra/local/localstack.sh start"

export AWS_ENDPOINT_URL="http://127.0.0.1:$PORT"
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
unset AWS_PROFILE AWS_SESSION_TOKEN
export SAM_CLI_TELEMETRY=0 SAM_CLI_CONTEXT_SETTINGS_CACHE=0
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null

# The functions are not deployed here (Condition DeployFunctions), but `sam deploy` would still zip and
# upload CodeUri "." (the whole workspace, target/ included). Point CodeUri at a placeholder S3 URI in
# a copy of the template instead: nothing to package, no bucket needed.
BUILD="$LOCAL/deploy"
mkdir -p "$BUILD"
sed -E 's#^([[:space:]]*)CodeUri:[[:space:]]*\.[[:space:]]*$#\1CodeUri: s3://cobranca-local-placeholder/not-deployed.zip#' \
  "$REPO/template.yaml" > "$BUILD/template.yaml"
grep -qE '^[[:space:]]*CodeUri:[[:space:]]*\.[[:space:]]*$' "$BUILD/template.yaml" && die "CodeUri rewrite failed"

# Skip `sam deploy` (about 8 s even with nothing to change) when this very template and these
# parameters were already deployed to this LocalStack process and the stack is still there.
# COBRANCA_DEPLOY_FORCE=1 always deploys.
LS_PID="$(cat "$LOCAL/localstack$SUFFIX.pid" 2>/dev/null || echo none)"
DEPLOY_KEY="$( { cat "$BUILD/template.yaml"; echo "$STACK $STAGE $PORT $LS_PID"; } | sha256sum | cut -c1-32)"
STAMP="$BUILD/$STACK$SUFFIX.deployed"
t0=$SECONDS
STATUS="$("$TOOLS/bin/python" -c '
import sys, boto3
try:
    print(boto3.client("cloudformation").describe_stacks(StackName=sys.argv[1])["Stacks"][0]["StackStatus"])
except Exception:
    print("NONE")' "$STACK")"
case "$STATUS" in
  ROLLBACK_COMPLETE|ROLLBACK_FAILED|CREATE_FAILED|DELETE_FAILED|UPDATE_ROLLBACK_FAILED)
    log "stack $STACK is $STATUS: deleting it first"
    "$TOOLS/bin/python" -c '
import sys, boto3
cfn = boto3.client("cloudformation")
cfn.delete_stack(StackName=sys.argv[1])
cfn.get_waiter("stack_delete_complete").wait(StackName=sys.argv[1], WaiterConfig={"Delay": 1, "MaxAttempts": 120})' "$STACK"
    STATUS=NONE ;;
esac
if [ "${COBRANCA_DEPLOY_FORCE:-0}" != 1 ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$DEPLOY_KEY" ] \
   && { [ "$STATUS" = CREATE_COMPLETE ] || [ "$STATUS" = UPDATE_COMPLETE ]; }; then
  log "stack $STACK already deployed from this template to this LocalStack: skipping sam deploy"
else
  rm -f "$STAMP"
  log "sam deploy --stack-name $STACK (Stage=$STAGE, DeployFunctions=false) to $AWS_ENDPOINT_URL"
  t0=$SECONDS
  (
    cd "$BUILD"
    "$TOOLS/bin/sam" deploy \
      --template-file "$BUILD/template.yaml" \
      --stack-name "$STACK" \
      --region "$AWS_REGION" \
      --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND \
      --parameter-overrides \
        DeployFunctions=false \
        Stage="$STAGE" \
        WebhookSecretArn=arn:aws:secretsmanager:us-east-1:000000000000:secret:local-webhook \
      --no-confirm-changeset \
      --no-fail-on-empty-changeset
  )
  log "sam deploy finished in $((SECONDS - t0)) s"
  echo "$DEPLOY_KEY" > "$STAMP"
fi

log "writing $ENV_FILE and checking the resources"
"$TOOLS/bin/python" - "$STACK" "$ENV_FILE" <<'PY'
import sys, time, json, uuid
import boto3

stack, env_file = sys.argv[1], sys.argv[2]
cfn = boto3.client("cloudformation")
desc = cfn.describe_stacks(StackName=stack)["Stacks"][0]
status = desc["StackStatus"]
if status not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
    sys.exit(f"stack {stack} is {status}")
out = {o["OutputKey"]: o["OutputValue"] for o in desc.get("Outputs", [])}
need = ["TableName", "EventBusName", "NotificationQueueUrl", "NotificationDeadLetterQueueUrl", "PaymentSetupQueueUrl", "PaymentSetupDeadLetterQueueUrl", "WebhookQueueUrl", "WebhookDeadLetterQueueUrl"]
missing = [k for k in need if k not in out]
if missing:
    sys.exit(f"stack outputs missing: {missing} (got {sorted(out)})")

import os
lines = [
    f"COBRANCA_TABLE={out['TableName']}",
    f"COBRANCA_EVENT_BUS={out['EventBusName']}",
    f"COBRANCA_NOTIFICATION_QUEUE_URL={out['NotificationQueueUrl']}",
    f"COBRANCA_NOTIFICATION_DLQ_URL={out['NotificationDeadLetterQueueUrl']}",
    f"COBRANCA_PAYMENT_SETUP_QUEUE_URL={out['PaymentSetupQueueUrl']}",
    f"COBRANCA_PAYMENT_SETUP_DLQ_URL={out['PaymentSetupDeadLetterQueueUrl']}",
    f"COBRANCA_WEBHOOK_QUEUE_URL={out['WebhookQueueUrl']}",
    f"COBRANCA_WEBHOOK_DLQ_URL={out['WebhookDeadLetterQueueUrl']}",
    f"AWS_ENDPOINT_URL={os.environ['AWS_ENDPOINT_URL']}",
    f"AWS_REGION={os.environ['AWS_REGION']}",
    f"AWS_ACCESS_KEY_ID={os.environ['AWS_ACCESS_KEY_ID']}",
    f"AWS_SECRET_ACCESS_KEY={os.environ['AWS_SECRET_ACCESS_KEY']}",
]
tmp = env_file + ".tmp"
with open(tmp, "w") as f:
    f.write("\n".join(lines) + "\n")
os.replace(tmp, env_file)

def check(cond, what):
    if not cond:
        sys.exit(f"check failed: {what}")
    print(f"[deploy]   ok: {what}")

# Table with its GSIs and TTL.
ddb = boto3.client("dynamodb")
t0 = time.time()
table = ddb.describe_table(TableName=out["TableName"])["Table"]
check(table["TableStatus"] == "ACTIVE", f"table {table['TableName']} ACTIVE (first DynamoDB call {time.time() - t0:.1f} s)")
keys = {k["AttributeName"]: k["KeyType"] for k in table["KeySchema"]}
check(keys == {"PK": "HASH", "SK": "RANGE"}, "table keys PK/SK")
gsis = {g["IndexName"]: {k["AttributeName"]: k["KeyType"] for k in g["KeySchema"]} for g in table.get("GlobalSecondaryIndexes", [])}
check(gsis.get("gsi1") == {"GSI1PK": "HASH", "GSI1SK": "RANGE"}, "GSI gsi1 (GSI1PK, GSI1SK)")
check(gsis.get("gsi2") == {"GSI2PK": "HASH", "GSI2SK": "RANGE"}, "GSI gsi2 (GSI2PK, GSI2SK)")
check(gsis.get("due") == {"DUEPK": "HASH", "DUESK": "RANGE"}, "GSI due (DUEPK, DUESK)")
check(gsis.get("open") == {"OPENPK": "HASH", "OPENSK": "RANGE"}, "GSI open (OPENPK, OPENSK)")
ttl = ddb.describe_time_to_live(TableName=out["TableName"])["TimeToLiveDescription"]
check(ttl.get("AttributeName") == "ttl" and ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING"), "TTL on attribute ttl")

# Queues and redrive.
sqs = boto3.client("sqs")
dlq_arn = sqs.get_queue_attributes(QueueUrl=out["NotificationDeadLetterQueueUrl"], AttributeNames=["All"])["Attributes"]["QueueArn"]
attrs = sqs.get_queue_attributes(QueueUrl=out["NotificationQueueUrl"], AttributeNames=["All"])["Attributes"]
redrive = json.loads(attrs.get("RedrivePolicy", "{}"))
check(redrive.get("deadLetterTargetArn") == dlq_arn and int(redrive.get("maxReceiveCount", 0)) == 5,
      "notification queue redrives to the DLQ after 5 receives")
check(attrs.get("VisibilityTimeout") == "60", "notification queue visibility timeout 60 s")
setup_dlq_arn = sqs.get_queue_attributes(QueueUrl=out["PaymentSetupDeadLetterQueueUrl"], AttributeNames=["All"])["Attributes"]["QueueArn"]
setup_redrive = json.loads(sqs.get_queue_attributes(QueueUrl=out["PaymentSetupQueueUrl"], AttributeNames=["All"])["Attributes"].get("RedrivePolicy", "{}"))
check(setup_redrive.get("deadLetterTargetArn") == setup_dlq_arn, "payment setup queue redrives to its DLQ")

webhook_dlq_arn = sqs.get_queue_attributes(QueueUrl=out["WebhookDeadLetterQueueUrl"], AttributeNames=["All"])["Attributes"]["QueueArn"]
webhook_redrive = json.loads(sqs.get_queue_attributes(QueueUrl=out["WebhookQueueUrl"], AttributeNames=["All"])["Attributes"].get("RedrivePolicy", "{}"))
check(webhook_redrive.get("deadLetterTargetArn") == webhook_dlq_arn, "webhook queue redrives to its DLQ")

# Event bus.
bus = boto3.client("events").describe_event_bus(Name=out["EventBusName"])
check(bus["Name"] == out["EventBusName"], f"event bus {bus['Name']}")

# DynamoDB round trip through the sparse `due` index (proves the offline DynamoDB Local setup).
probe = f"deploy-probe#{uuid.uuid4().hex}"
ddb.put_item(TableName=out["TableName"], Item={
    "PK": {"S": probe}, "SK": {"S": "probe"},
    "DUEPK": {"S": probe}, "DUESK": {"S": "2000-01-01T00:00:00Z"},
    "ttl": {"N": str(int(time.time()) + 600)},
})
items = ddb.query(TableName=out["TableName"], IndexName="due",
                  KeyConditionExpression="DUEPK = :p", ExpressionAttributeValues={":p": {"S": probe}})["Items"]
ddb.delete_item(TableName=out["TableName"], Key={"PK": {"S": probe}, "SK": {"S": "probe"}})
check(len(items) == 1 and items[0]["PK"]["S"] == probe, "PutItem + Query on index due")
PY
log "done in $((SECONDS - t0)) s; env file $ENV_FILE:"
sed 's/^/[deploy]   /' "$ENV_FILE"
