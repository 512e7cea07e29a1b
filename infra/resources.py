"""Creates in an emulator (or any AWS endpoint) the resources template.yaml declares.

Only what the emulator needs to behave like the deployed stack is applied: names,
keys, indexes, streams, TTL, redrive, queue policy, versioning, lifecycle, CORS and the bucket's
S3 -> SQS notification. IAM and functions are deployment-only.
"""

from __future__ import annotations

import json
import secrets as secrets_module
import string

import boto3
from botocore.exceptions import ClientError

from template import Resolver

_TABLE_KEYS = ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "LocalSecondaryIndexes")


def _table_request(props: dict) -> dict:
    req = {k: props[k] for k in _TABLE_KEYS if k in props}
    req["TableName"] = props["TableName"]
    req["BillingMode"] = props.get("BillingMode", "PROVISIONED")
    stream = props.get("StreamSpecification")
    if stream:
        req["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    if req["BillingMode"] == "PROVISIONED":
        req["ProvisionedThroughput"] = props["ProvisionedThroughput"]
    return req


def _notification_request(props: dict) -> dict:
    """CloudFormation's NotificationConfiguration shape -> the S3 API's shape."""
    conf = props.get("NotificationConfiguration", {})
    out: dict = {}
    for cfn_key, api_key, target_key, api_target in (
        ("QueueConfigurations", "QueueConfigurations", "Queue", "QueueArn"),
        ("TopicConfigurations", "TopicConfigurations", "Topic", "TopicArn"),
        ("LambdaConfigurations", "LambdaFunctionConfigurations", "Function", "LambdaFunctionArn"),
    ):
        items = []
        for item in conf.get(cfn_key, []):
            entry = {api_target: item[target_key], "Events": [item["Event"]]}
            rules = item.get("Filter", {}).get("S3Key", {}).get("Rules")
            if rules:
                entry["Filter"] = {"Key": {"FilterRules": rules}}
            items.append(entry)
        if items:
            out[api_key] = items
    return out


_CORS_KEYS = {"ExposedHeaders": "ExposeHeaders", "MaxAge": "MaxAgeSeconds", "Id": "ID"}


def _cors_rules(conf: dict) -> list[dict]:
    """CloudFormation's CorsRules -> the S3 API's CORSRules (a few keys differ)."""
    return [{_CORS_KEYS.get(k, k): v for k, v in rule.items()} for rule in conf["CorsRules"]]


def _lifecycle_rules(conf: dict) -> list[dict]:
    """CloudFormation's LifecycleConfiguration.Rules -> the S3 API's rules."""
    out = []
    for rule in conf["Rules"]:
        api: dict = {"ID": rule["Id"], "Status": rule["Status"], "Filter": {"Prefix": rule.get("Prefix", "")}}
        if "ExpirationInDays" in rule:
            api["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
        if rule.get("ExpiredObjectDeleteMarker"):
            api["Expiration"] = {"ExpiredObjectDeleteMarker": True}
        if "NoncurrentVersionExpirationInDays" in rule:
            api["NoncurrentVersionExpiration"] = {"NoncurrentDays": int(rule["NoncurrentVersionExpirationInDays"])}
        if "AbortIncompleteMultipartUpload" in rule:
            days = int(rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"])
            api["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": days}
        out.append(api)
    return out


def create_all(resolver: Resolver, endpoint_url: str, extra_auth_flows: tuple[str, ...] = ()) -> dict[str, str]:
    """Creates every supported resource; returns logical id -> physical name/URL.
    User pools and app clients get ids from the service: they are recorded in
    the resolver, so later !Ref of them resolves (first, as other resources refer to them)."""
    session = boto3.session.Session(region_name=resolver.region)
    ddb = session.client("dynamodb", endpoint_url=endpoint_url)
    sqs = session.client("sqs", endpoint_url=endpoint_url)
    s3 = session.client("s3", endpoint_url=endpoint_url)
    created: dict[str, str] = {}
    created.update(_create_user_pools(session, endpoint_url, resolver, extra_auth_flows))

    for logical, res in resolver.of_type("AWS::DynamoDB::Table").items():
        props = resolver.resolve(res["Properties"])
        try:
            ddb.create_table(**_table_request(props))
        except ddb.exceptions.ResourceInUseException:
            pass
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            ddb.update_time_to_live(
                TableName=props["TableName"],
                TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
            )
        created[logical] = props["TableName"]

    queues = resolver.of_type("AWS::SQS::Queue")
    # Dead-letter queues first: a redrive policy names an existing queue.
    for logical, res in sorted(queues.items(), key=lambda kv: "RedrivePolicy" in kv[1].get("Properties", {})):
        props = resolver.resolve(res["Properties"])
        attrs = {}
        for key in ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds", "ReceiveMessageWaitTimeSeconds"):
            if key in props:
                attrs[key] = str(props[key])
        if "RedrivePolicy" in props:
            attrs["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
        url = sqs.create_queue(QueueName=props["QueueName"], Attributes=attrs)["QueueUrl"]
        created[logical] = url

    for res in resolver.of_type("AWS::SQS::QueuePolicy").values():
        props = resolver.resolve(res["Properties"])
        for queue_url in props["Queues"]:
            name = queue_url.rsplit("/", 1)[-1]
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
            sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(props["PolicyDocument"])})

    for logical, res in resolver.of_type("AWS::S3::Bucket").items():
        props = resolver.resolve(res["Properties"])
        name = props["BucketName"]
        try:
            if resolver.region == "us-east-1":
                s3.create_bucket(Bucket=name)
            else:
                s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": resolver.region})
        except ClientError as e:
            if e.response["Error"]["Code"] != "BucketAlreadyOwnedByYou":
                raise
        if props.get("VersioningConfiguration"):
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration=props["VersioningConfiguration"])
        if props.get("LifecycleConfiguration"):
            s3.put_bucket_lifecycle_configuration(
                Bucket=name, LifecycleConfiguration={"Rules": _lifecycle_rules(props["LifecycleConfiguration"])}
            )
        if props.get("CorsConfiguration"):
            s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": _cors_rules(props["CorsConfiguration"])})
        notification = _notification_request(props)
        if notification:
            s3.put_bucket_notification_configuration(Bucket=name, NotificationConfiguration=notification)
        created[logical] = name

    secrets = session.client("secretsmanager", endpoint_url=endpoint_url)
    for logical, res in resolver.of_type("AWS::SecretsManager::Secret").items():
        props = resolver.resolve(res["Properties"])
        gen = props.get("GenerateSecretString", {})
        value = props.get("SecretString") or _random_secret(int(gen.get("PasswordLength", 32)))
        try:
            secrets.create_secret(Name=props["Name"], SecretString=value)
        except secrets.exceptions.ResourceExistsException:
            pass
        created[logical] = props["Name"]

    ses = session.client("sesv2", endpoint_url=endpoint_url)
    for logical, res in resolver.of_type("AWS::SES::EmailIdentity").items():
        identity = resolver.resolve(res["Properties"])["EmailIdentity"]
        ses.create_email_identity(EmailIdentity=identity)
        created[logical] = identity
    # The emulator keeps configuration sets but publishes no events from them:
    # tests publish SES-shaped events to the topic themselves.
    for logical, res in resolver.of_type("AWS::SES::ConfigurationSet").items():
        name = resolver.resolve(res["Properties"])["Name"]
        try:
            ses.create_configuration_set(ConfigurationSetName=name)
        except ClientError as e:
            if e.response["Error"]["Code"] != "AlreadyExistsException":
                raise
        created[logical] = name

    sns = session.client("sns", endpoint_url=endpoint_url)
    for logical, res in resolver.of_type("AWS::SNS::Topic").items():
        created[logical] = sns.create_topic(Name=resolver.resolve(res["Properties"])["TopicName"])["TopicArn"]
    for res in resolver.of_type("AWS::SNS::Subscription").values():
        props = resolver.resolve(res["Properties"])
        attrs = {"RawMessageDelivery": "true"} if props.get("RawMessageDelivery") else {}
        sns.subscribe(TopicArn=props["TopicArn"], Protocol=props["Protocol"], Endpoint=props["Endpoint"], Attributes=attrs)

    events = session.client("events", endpoint_url=endpoint_url)
    for logical, res in resolver.of_type("AWS::Events::EventBus").items():
        name = resolver.resolve(res["Properties"])["Name"]
        try:
            events.create_event_bus(Name=name)
        except ClientError as e:
            if e.response["Error"]["Code"] != "ResourceAlreadyExistsException":
                raise
        created[logical] = name

    return created


def _create_user_pools(session, endpoint_url: str, resolver: Resolver, extra_auth_flows: tuple[str, ...]) -> dict[str, str]:
    idp = session.client("cognito-idp", endpoint_url=endpoint_url)
    created: dict[str, str] = {}
    for logical, res in resolver.of_type("AWS::Cognito::UserPool").items():
        props = resolver.resolve(res["Properties"])
        name = props["UserPoolName"]
        known = [p["Id"] for p in idp.list_user_pools(MaxResults=60)["UserPools"] if p["Name"] == name]
        if known:
            pool_id = known[0]
        else:
            request = {"PoolName": name}
            for key in ("Policies", "AdminCreateUserConfig"):
                if key in props:
                    request[key] = props[key]
            pool_id = idp.create_user_pool(**request)["UserPool"]["Id"]
        resolver.physical[logical] = created[logical] = pool_id
    for logical, res in resolver.of_type("AWS::Cognito::UserPoolClient").items():
        props = resolver.resolve(res["Properties"])
        flows = list(dict.fromkeys([*props.get("ExplicitAuthFlows", []), *extra_auth_flows]))
        known = [
            c["ClientId"]
            for c in idp.list_user_pool_clients(UserPoolId=props["UserPoolId"], MaxResults=60)["UserPoolClients"]
            if c["ClientName"] == props["ClientName"]
        ]
        client_id = known[0] if known else idp.create_user_pool_client(
            UserPoolId=props["UserPoolId"],
            ClientName=props["ClientName"],
            GenerateSecret=False,
            ExplicitAuthFlows=flows,
        )["UserPoolClient"]["ClientId"]
        resolver.physical[logical] = created[logical] = client_id
    return created


def create_admin(endpoint_url: str, region: str, pool_id: str, username: str, password: str) -> None:
    """An administrator who can sign in at once (no forced password change)."""
    idp = boto3.session.Session(region_name=region).client("cognito-idp", endpoint_url=endpoint_url)
    try:
        idp.admin_create_user(UserPoolId=pool_id, Username=username, MessageAction="SUPPRESS")
    except idp.exceptions.UsernameExistsException:
        pass
    idp.admin_set_user_password(UserPoolId=pool_id, Username=username, Password=password, Permanent=True)


def _random_secret(length: int) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets_module.choice(alphabet) for _ in range(length))
