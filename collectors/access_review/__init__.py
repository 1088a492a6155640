"""Access-review evidence: the stored access reviews (flows.access_review) read back per AWS account."""
