-- Series by their head message alone (the unique index starts with the project): the patch
-- list of one series (`series_id = head`, as the series page's workflow form and Patchwork's
-- `?series=` read it) scanned every series member without it.
CREATE INDEX series_head ON series(head_id);
