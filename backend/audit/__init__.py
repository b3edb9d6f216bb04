"""The audit trail: who did what to whom, appended in the same transaction as the change."""
