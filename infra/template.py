"""Reads template.yaml and resolves what the local stack needs from it.

template.yaml is the single source of truth: the local stack creates exactly the
buckets, queues, tables and notifications it declares, with names resolved by the
same !Sub/!Ref/!GetAtt rules CloudFormation applies, and gives the functions the
environment the template gives them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class Intrinsic:
    """A CloudFormation short-form function such as !Ref or !Sub."""

    def __init__(self, name: str, value: Any):
        self.name = name
        self.value = value

    def __repr__(self) -> str:
        return f"!{self.name} {self.value!r}"


class _Loader(yaml.SafeLoader):
    pass


def _intrinsic(name: str):
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> Intrinsic:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if name == "GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return Intrinsic(name, value)

    return construct


for _name in ("Ref", "Sub", "GetAtt", "Join", "If", "Equals", "Not", "Select", "Split", "ImportValue", "FindInMap"):
    _Loader.add_constructor(f"!{_name}", _intrinsic(_name))


def load(path: Path) -> dict:
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=_Loader)


class UnsupportedIntrinsic(Exception):
    pass


@dataclass
class Resolver:
    """Resolves intrinsics for one stack name, account and region."""

    template: dict
    stack_name: str
    account: str
    region: str
    parameters: dict[str, str] = field(default_factory=dict)
    # Where queues live: real SQS URLs by default, the emulator's when given.
    queue_url_base: str | None = None
    # Ids the service generates (user pools, app clients), known once created.
    physical: dict[str, str] = field(default_factory=dict)

    def pseudo(self) -> dict[str, str]:
        return {
            "AWS::StackName": self.stack_name,
            "AWS::AccountId": self.account,
            "AWS::Region": self.region,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }

    def resources(self) -> dict[str, dict]:
        return self.template.get("Resources", {})

    def physical_name(self, logical: str) -> str:
        res = self.resources()[logical]
        props = res.get("Properties", {})
        key = {
            "AWS::S3::Bucket": "BucketName",
            "AWS::SQS::Queue": "QueueName",
            "AWS::DynamoDB::Table": "TableName",
            "AWS::Serverless::Function": "FunctionName",
            "AWS::SecretsManager::Secret": "Name",
            "AWS::SES::EmailIdentity": "EmailIdentity",
            "AWS::SES::ConfigurationSet": "Name",
            "AWS::SNS::Topic": "TopicName",
            "AWS::Events::EventBus": "Name",
            "AWS::Cognito::UserPool": "UserPoolName",
            "AWS::Cognito::UserPoolClient": "ClientName",
        }.get(res["Type"])
        if key is None or key not in props:
            raise UnsupportedIntrinsic(f"{logical} ({res['Type']}) needs an explicit {key or 'name'} to run locally")
        return self.resolve(props[key])

    def ref(self, name: str) -> str:
        pseudo = self.pseudo()
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        params = self.template.get("Parameters", {})
        if name in params:
            return str(params[name].get("Default", ""))
        if name in self.physical:
            return self.physical[name]
        res = self.resources()[name]
        if res["Type"] == "AWS::SQS::Queue":
            return self.queue_url(self.physical_name(name))
        if res["Type"] == "AWS::SNS::Topic":
            return f"arn:aws:sns:{self.region}:{self.account}:{self.physical_name(name)}"
        return self.physical_name(name)

    def queue_url(self, queue_name: str) -> str:
        base = self.queue_url_base or f"https://sqs.{self.region}.amazonaws.com"
        return f"{base}/{self.account}/{queue_name}"

    def get_att(self, logical: str, attr: str) -> str:
        res = self.resources()[logical]
        kind = res["Type"]
        if kind == "AWS::Cognito::UserPool" and attr == "ProviderURL":
            return f"https://cognito-idp.{self.region}.amazonaws.com/{self.ref(logical)}"
        name = self.physical_name(logical)
        if kind == "AWS::SQS::Queue" and attr == "Arn":
            return f"arn:aws:sqs:{self.region}:{self.account}:{name}"
        if kind == "AWS::SQS::Queue" and attr == "QueueName":
            return name
        if kind == "AWS::DynamoDB::Table" and attr == "Arn":
            return f"arn:aws:dynamodb:{self.region}:{self.account}:table/{name}"
        if kind == "AWS::Events::EventBus" and attr == "Arn":
            return f"arn:aws:events:{self.region}:{self.account}:event-bus/{name}"
        if kind == "AWS::Events::EventBus" and attr == "Name":
            return name
        if kind == "AWS::S3::Bucket" and attr == "Arn":
            return f"arn:aws:s3:::{name}"
        raise UnsupportedIntrinsic(f"!GetAtt {logical}.{attr}")

    def sub(self, text: str, extra: dict[str, Any] | None = None) -> str:
        def replace(m: re.Match) -> str:
            key = m.group(1)
            if extra and key in extra:
                return self.resolve(extra[key])
            if "." in key:
                logical, attr = key.split(".", 1)
                return self.get_att(logical, attr)
            return self.ref(key)

        return re.sub(r"\$\{([^}!]+)\}", replace, text)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, Intrinsic):
            if value.name == "Ref":
                return self.ref(value.value)
            if value.name == "Sub":
                if isinstance(value.value, list):
                    return self.sub(value.value[0], value.value[1])
                return self.sub(value.value)
            if value.name == "GetAtt":
                return self.get_att(*value.value)
            if value.name == "If":
                condition, when_true, when_false = value.value
                return self.resolve(when_true if self.condition(condition) else when_false)
            if value.name == "Equals":
                a, b = value.value
                return str(self.resolve(a)) == str(self.resolve(b))
            if value.name == "Not":
                return not self.resolve(value.value[0])
            if value.name == "Join":
                sep, items = value.value
                return sep.join(str(self.resolve(i)) for i in items)
            raise UnsupportedIntrinsic(repr(value))
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.template.get("Conditions", {})[name]))

    def of_type(self, kind: str) -> dict[str, dict]:
        """The resources of a type that this stack has (a false Condition leaves one out, as in CloudFormation)."""
        return {
            k: v
            for k, v in self.resources().items()
            if v["Type"] == kind and ("Condition" not in v or self.condition(v["Condition"]))
        }

    def function_environment(self) -> dict[str, str]:
        """Globals plus every function's variables; the functions agree on shared names."""
        env: dict[str, str] = {}
        glob = self.template.get("Globals", {}).get("Function", {})
        for k, v in glob.get("Environment", {}).get("Variables", {}).items():
            env[k] = str(self.resolve(v))
        for fn in self.of_type("AWS::Serverless::Function").values():
            for k, v in fn.get("Properties", {}).get("Environment", {}).get("Variables", {}).items():
                env[k] = str(self.resolve(v))
        return env
