CREATE TABLE "customers" (
	"project_id" uuid NOT NULL,
	"id" bigint GENERATED ALWAYS AS IDENTITY (sequence name "customers_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"telegram_user_id" bigint NOT NULL,
	"username" text,
	"first_name" text,
	"last_name" text,
	"language_code" text,
	"available" bigint DEFAULT 0 NOT NULL,
	"held" bigint DEFAULT 0 NOT NULL,
	"debt" bigint DEFAULT 0 NOT NULL,
	"next_expiry_at" timestamp with time zone,
	"blocked_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_active_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "customers_project_id_id_pk" PRIMARY KEY("project_id","id"),
	CONSTRAINT "customers_available_nonnegative" CHECK ("customers"."available" >= 0),
	CONSTRAINT "customers_held_nonnegative" CHECK ("customers"."held" >= 0),
	CONSTRAINT "customers_debt_nonnegative" CHECK ("customers"."debt" >= 0)
);
--> statement-breakpoint
CREATE TABLE "grants" (
	"project_id" uuid NOT NULL,
	"id" bigint GENERATED ALWAYS AS IDENTITY (sequence name "grants_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"customer_id" bigint NOT NULL,
	"amount" bigint NOT NULL,
	"remaining" bigint NOT NULL,
	"source" text NOT NULL,
	"reason" text NOT NULL,
	"priority" integer DEFAULT 0 NOT NULL,
	"expires_at" timestamp with time zone,
	"payment_id" bigint,
	"closed_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "grants_project_id_id_pk" PRIMARY KEY("project_id","id"),
	CONSTRAINT "grants_amount_positive" CHECK ("grants"."amount" > 0),
	CONSTRAINT "grants_remaining_bounds" CHECK ("grants"."remaining" >= 0 and "grants"."remaining" <= "grants"."amount"),
	CONSTRAINT "grants_source" CHECK ("grants"."source" in ('payment', 'renewal', 'promo', 'manual', 'free_allowance', 'adjustment'))
);
--> statement-breakpoint
CREATE TABLE "holds" (
	"project_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"customer_id" bigint NOT NULL,
	"amount" bigint NOT NULL,
	"allocations" jsonb NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"reason" text NOT NULL,
	"settled_amount" bigint,
	"expires_at" timestamp with time zone NOT NULL,
	"closed_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "holds_project_id_id_pk" PRIMARY KEY("project_id","id"),
	CONSTRAINT "holds_amount_positive" CHECK ("holds"."amount" > 0),
	CONSTRAINT "holds_status" CHECK ("holds"."status" in ('active', 'settled', 'released', 'expired')),
	CONSTRAINT "holds_settled_bounds" CHECK ("holds"."settled_amount" is null or "holds"."settled_amount" >= 0)
);
--> statement-breakpoint
CREATE TABLE "idempotency_keys" (
	"project_id" uuid NOT NULL,
	"key" text NOT NULL,
	"operation" text NOT NULL,
	"request_hash" text NOT NULL,
	"response" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "idempotency_keys_project_id_key_pk" PRIMARY KEY("project_id","key")
);
--> statement-breakpoint
CREATE TABLE "ledger_entries" (
	"project_id" uuid NOT NULL,
	"id" bigint GENERATED ALWAYS AS IDENTITY (sequence name "ledger_entries_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"customer_id" bigint NOT NULL,
	"kind" text NOT NULL,
	"amount" bigint NOT NULL,
	"held_change" bigint DEFAULT 0 NOT NULL,
	"debt_change" bigint DEFAULT 0 NOT NULL,
	"available_after" bigint NOT NULL,
	"held_after" bigint NOT NULL,
	"debt_after" bigint NOT NULL,
	"lots" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"grant_id" bigint,
	"hold_id" uuid,
	"reason" text NOT NULL,
	"actor" text NOT NULL,
	"idempotency_key" text,
	"metadata" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "ledger_entries_project_id_id_pk" PRIMARY KEY("project_id","id"),
	CONSTRAINT "ledger_entries_kind" CHECK ("ledger_entries"."kind" in ('grant', 'consume', 'hold', 'settle', 'release', 'hold_expire', 'expire', 'revoke', 'adjust', 'repay')),
	CONSTRAINT "ledger_entries_after_nonnegative" CHECK ("ledger_entries"."available_after" >= 0 and "ledger_entries"."held_after" >= 0 and "ledger_entries"."debt_after" >= 0)
);
--> statement-breakpoint
CREATE TABLE "api_keys" (
	"project_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"prefix" text NOT NULL,
	"key_hash" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"revoked_at" timestamp with time zone,
	CONSTRAINT "api_keys_project_id_id_pk" PRIMARY KEY("project_id","id")
);
--> statement-breakpoint
CREATE TABLE "audit_log" (
	"project_id" uuid NOT NULL,
	"id" bigint GENERATED ALWAYS AS IDENTITY (sequence name "audit_log_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"actor" text NOT NULL,
	"action" text NOT NULL,
	"target" text,
	"before" jsonb,
	"after" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "audit_log_project_id_id_pk" PRIMARY KEY("project_id","id")
);
--> statement-breakpoint
CREATE TABLE "operators" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"email" text NOT NULL,
	"name" text NOT NULL,
	"password_hash" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "operators_email_unique" UNIQUE("email")
);
--> statement-breakpoint
CREATE TABLE "project_members" (
	"project_id" uuid NOT NULL,
	"operator_id" uuid NOT NULL,
	"role" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "project_members_project_id_operator_id_pk" PRIMARY KEY("project_id","operator_id"),
	CONSTRAINT "project_members_role" CHECK ("project_members"."role" in ('owner', 'viewer'))
);
--> statement-breakpoint
CREATE TABLE "projects" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"time_zone" text DEFAULT 'UTC' NOT NULL,
	"refund_policy" text DEFAULT 'debt' NOT NULL,
	"low_balance_threshold" bigint DEFAULT 0 NOT NULL,
	"bot_token_encrypted" text,
	"webhook_secret" text,
	"relay_target" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "projects_refund_policy" CHECK ("projects"."refund_policy" in ('debt', 'absorb')),
	CONSTRAINT "projects_low_balance_threshold" CHECK ("projects"."low_balance_threshold" >= 0)
);
--> statement-breakpoint
ALTER TABLE "customers" ADD CONSTRAINT "customers_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "grants" ADD CONSTRAINT "grants_project_id_customer_id_customers_project_id_id_fk" FOREIGN KEY ("project_id","customer_id") REFERENCES "public"."customers"("project_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "holds" ADD CONSTRAINT "holds_project_id_customer_id_customers_project_id_id_fk" FOREIGN KEY ("project_id","customer_id") REFERENCES "public"."customers"("project_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "ledger_entries" ADD CONSTRAINT "ledger_entries_project_id_customer_id_customers_project_id_id_fk" FOREIGN KEY ("project_id","customer_id") REFERENCES "public"."customers"("project_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "audit_log" ADD CONSTRAINT "audit_log_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "project_members" ADD CONSTRAINT "project_members_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "project_members" ADD CONSTRAINT "project_members_operator_id_operators_id_fk" FOREIGN KEY ("operator_id") REFERENCES "public"."operators"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "customers_telegram_user" ON "customers" USING btree ("project_id","telegram_user_id");--> statement-breakpoint
CREATE INDEX "customers_next_expiry" ON "customers" USING btree ("next_expiry_at") WHERE "customers"."next_expiry_at" is not null;--> statement-breakpoint
CREATE INDEX "grants_live" ON "grants" USING btree ("project_id","customer_id") WHERE "grants"."remaining" > 0;--> statement-breakpoint
CREATE INDEX "grants_expiring" ON "grants" USING btree ("expires_at") WHERE "grants"."remaining" > 0 and "grants"."expires_at" is not null;--> statement-breakpoint
CREATE INDEX "holds_active" ON "holds" USING btree ("project_id","customer_id") WHERE "holds"."status" = 'active';--> statement-breakpoint
CREATE INDEX "holds_expiring" ON "holds" USING btree ("expires_at") WHERE "holds"."status" = 'active';--> statement-breakpoint
CREATE INDEX "idempotency_keys_age" ON "idempotency_keys" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "ledger_entries_customer" ON "ledger_entries" USING btree ("project_id","customer_id","id");--> statement-breakpoint
CREATE UNIQUE INDEX "api_keys_hash" ON "api_keys" USING btree ("key_hash");--> statement-breakpoint
CREATE INDEX "audit_log_time" ON "audit_log" USING btree ("project_id","created_at");