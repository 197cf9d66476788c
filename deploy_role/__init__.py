"""The GitHub Actions deploy role: a separate, small CDK app an administrator deploys once per account."""
