"""The public testing helpers of `retention.testing`, on real databases."""
