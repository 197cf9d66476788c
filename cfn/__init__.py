"""Reading CloudFormation: a synthesized template (cfn.template) and the resource schemas (cfn.taggability)."""
