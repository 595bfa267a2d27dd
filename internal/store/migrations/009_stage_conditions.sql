-- Stage conditions (CodePipeline V2's beforeEntry and onSuccess
-- conditions): a stage's conditions and how each was evaluated, as a JSON
-- list of store.Condition. NULL: the stage has none.

ALTER TABLE pipeline_stages ADD COLUMN conditions TEXT CHECK (conditions IS NULL OR json_valid(conditions));
