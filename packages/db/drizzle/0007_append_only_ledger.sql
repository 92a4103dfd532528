-- The ledger and the audit log are append-only in the database, not only by convention
-- (docs/security/ledger.md). Statement-level triggers refuse UPDATE, DELETE and TRUNCATE on
-- ledger_entries, audit_log and ledger_chain_genesis.
--
-- The one escape: a migration that must rewrite one of these tables says so, inside its own
-- transaction, before the statement that touches them:
--
--   SET LOCAL e_stars.ledger_rewrite = 'migration 00NN_<name>: <why>';
--
-- SET LOCAL ends with the transaction, so the permission never outlives the migration. The engine
-- never sets it. (A rewrite breaks the hash chain of the entries it touches: `pnpm cli ledger
-- verify` names them afterwards, which is the point.)
CREATE FUNCTION "refuse_ledger_rewrite"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF coalesce(current_setting('e_stars.ledger_rewrite', true), '') <> '' THEN
    RAISE NOTICE '% on % allowed: %', TG_OP, TG_TABLE_NAME, current_setting('e_stars.ledger_rewrite');
    RETURN NULL;
  END IF;
  RAISE EXCEPTION '% on % refused: the table is append-only', TG_OP, TG_TABLE_NAME
    USING HINT = 'A migration that must rewrite it sets SET LOCAL e_stars.ledger_rewrite = ''migration <name>'' first (docs/security/ledger.md).';
END
$$;
--> statement-breakpoint
CREATE TRIGGER "ledger_entries_append_only" BEFORE UPDATE OR DELETE OR TRUNCATE ON "ledger_entries"
  FOR EACH STATEMENT EXECUTE FUNCTION "refuse_ledger_rewrite"();
--> statement-breakpoint
CREATE TRIGGER "audit_log_append_only" BEFORE UPDATE OR DELETE OR TRUNCATE ON "audit_log"
  FOR EACH STATEMENT EXECUTE FUNCTION "refuse_ledger_rewrite"();
--> statement-breakpoint
CREATE TRIGGER "ledger_chain_genesis_append_only" BEFORE UPDATE OR DELETE OR TRUNCATE ON "ledger_chain_genesis"
  FOR EACH STATEMENT EXECUTE FUNCTION "refuse_ledger_rewrite"();
--> statement-breakpoint
-- The chain's genesis: entries written before this migration carry no hash (their content digest
-- is canonical JSON computed by the engine in TypeScript, which SQL cannot reproduce exactly), so
-- each project's chains start at its first entry after this one. The verifier still checks
-- those older entries' balances and running sums.
INSERT INTO "ledger_chain_genesis" ("project_id", "last_unchained_entry_id")
  SELECT "project_id", max("id") FROM "ledger_entries" GROUP BY "project_id";
