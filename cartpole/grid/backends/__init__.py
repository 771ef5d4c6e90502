"""Where a group's trials run: local processes, in this process (one trial), or Ray
tasks; each trial is one worker process."""
