CREATE TABLE "ledger_chain_genesis" (
	"project_id" uuid PRIMARY KEY NOT NULL,
	"last_unchained_entry_id" bigint NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "customers" ADD COLUMN "ledger_head" text;--> statement-breakpoint
ALTER TABLE "ledger_entries" ADD COLUMN "prev_hash" text;--> statement-breakpoint
ALTER TABLE "ledger_entries" ADD COLUMN "hash" text;