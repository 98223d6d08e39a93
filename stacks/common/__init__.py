"""Helpers every component uses: log groups, cdk-nag acknowledgments, ARNs, IAM statement targets."""
