"""chain/consensus."""
