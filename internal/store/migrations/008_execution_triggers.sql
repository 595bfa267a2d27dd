-- What triggered a pipeline execution (issue 17): the kind of event
-- (push, tag, pull_request), its ref and commit, how many files it
-- changed and, for a pull request, its number, action and branches.
-- NULL for executions from before, and for manual starts.

ALTER TABLE pipeline_executions ADD COLUMN triggered_by TEXT CHECK (triggered_by IS NULL OR json_valid(triggered_by));
