-- (a) The minimal consume: one conditional decrement and one ledger insert, in one statement and
-- one transaction. The floor any engine pays per consume on this database; e-Stars's ratios are
-- against it. Variables: -D project=<uuid> -D customers=<n> (1: one hot customer).
\set cid random(1, :customers)
with c as (
  update customers set available = available - 1
  where project_id = :project and telegram_user_id = :cid and available >= 1
  returning id, project_id, available
)
insert into ledger_entries
  (project_id, customer_id, kind, amount, available_after, held_after, debt_after, reason, actor)
select project_id, id, 'consume', -1, available, 0, 0, 'bench', 'bench' from c;
