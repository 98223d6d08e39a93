"""S3: the training channels with their manifest, and the packaging pipeline CodeBuild runs."""
