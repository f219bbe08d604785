provider "aws" {
  region = var.aws_region

  default_tags {
    tags = {
      Project   = var.name
      ManagedBy = "terraform"
    }
  }
}

# The account and partition the aws provider deploys to: for ARNs and policies.
data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

# The Atlas API credentials come from the environment, never from a file in this repository:
# MONGODB_ATLAS_PUBLIC_API_KEY and MONGODB_ATLAS_PRIVATE_API_KEY (programmatic API key), or
# MONGODB_ATLAS_CLIENT_ID and MONGODB_ATLAS_CLIENT_SECRET (service account).
provider "mongodbatlas" {}
