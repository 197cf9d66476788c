"""How a role's grant is read as (action, target) pairs: what would let a wrong grant pass the proof."""

from cfn.grants import role_grants
from cfn.template import Template

TABLE = {"Fn::GetAtt": ["Table", "Arn"]}


def template_with(*statements) -> Template:
    return Template(
        {
            "Resources": {
                "Table": {"Type": "AWS::DynamoDB::Table", "Properties": {}},
                "Role": {
                    "Type": "AWS::IAM::Role",
                    "Properties": {"Policies": [{"PolicyDocument": {"Statement": list(statements)}}]},
                },
            }
        }
    )


def test_an_index_and_a_stream_are_told_apart_from_their_table():
    template = template_with(
        {"Effect": "Allow", "Action": "dynamodb:Query", "Resource": {"Fn::Join": ["", [TABLE, "/index/owner"]]}},
        {"Effect": "Allow", "Action": "dynamodb:GetRecords", "Resource": {"Fn::GetAtt": ["Table", "StreamArn"]}},
        {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": TABLE},
    )
    assert role_grants(template, "Role") == {
        ("dynamodb:Query", "index Table/owner"),
        ("dynamodb:GetRecords", "stream Table"),
        ("dynamodb:GetItem", "table Table"),
    }


def test_an_index_suffix_without_its_slash_is_another_table_not_the_index():
    """`<table arn>index/owner` names a table called `<name>index`, not the index."""
    template = template_with(
        {"Effect": "Allow", "Action": "dynamodb:Query", "Resource": {"Fn::Join": ["", [TABLE, "index/owner"]]}}
    )
    assert ("dynamodb:Query", "index Table/owner") not in role_grants(template, "Role")


def test_a_conditional_allow_and_a_denied_pair_grant_nothing():
    template = template_with(
        {"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:PutItem"], "Resource": TABLE},
        {"Effect": "Deny", "Action": "dynamodb:PutItem", "Resource": TABLE},
        {"Effect": "Allow", "Action": "dynamodb:Scan", "Resource": TABLE, "Condition": {"Bool": {"aws:SecureTransport": "true"}}},
        {"Effect": "Deny", "Action": "dynamodb:DeleteItem", "Resource": "*"},
        {"Effect": "Allow", "Action": "dynamodb:DeleteItem", "Resource": TABLE},
    )
    assert role_grants(template, "Role") == {("dynamodb:GetItem", "table Table")}
