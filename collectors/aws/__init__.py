"""AWS collectors (boto3)."""
