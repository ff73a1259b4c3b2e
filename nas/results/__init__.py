"""The run folder and what is read from it: one child's outcome, the leaderboard, the report."""
