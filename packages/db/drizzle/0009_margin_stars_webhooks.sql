CREATE TABLE "star_transactions" (
	"project_id" uuid NOT NULL,
	"id" text NOT NULL,
	"direction" text NOT NULL,
	"nanostars" bigint NOT NULL,
	"partner_type" text NOT NULL,
	"detail" text,
	"withdrawal_state" text,
	"flagged" text,
	"raw" jsonb NOT NULL,
	"occurred_at" timestamp with time zone NOT NULL,
	"first_seen_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_seen_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "star_transactions_project_id_id_direction_pk" PRIMARY KEY("project_id","id","direction"),
	CONSTRAINT "star_transactions_direction" CHECK ("star_transactions"."direction" in ('in', 'out')),
	CONSTRAINT "star_transactions_amount" CHECK ("star_transactions"."nanostars" >= 0),
	CONSTRAINT "star_transactions_withdrawal" CHECK ("star_transactions"."withdrawal_state" is null or "star_transactions"."withdrawal_state" in ('pending', 'succeeded', 'failed'))
);
--> statement-breakpoint
CREATE TABLE "subscription_state_changes" (
	"project_id" uuid NOT NULL,
	"id" bigint GENERATED ALWAYS AS IDENTITY (sequence name "subscription_state_changes_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"subscription_id" uuid NOT NULL,
	"state" text NOT NULL,
	"source" text NOT NULL,
	"update_id" bigint,
	"details" jsonb,
	"occurred_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "subscription_state_changes_project_id_id_pk" PRIMARY KEY("project_id","id"),
	CONSTRAINT "subscription_state_changes_state" CHECK ("subscription_state_changes"."state" in ('active', 'canceled', 'failed'))
);
--> statement-breakpoint
CREATE TABLE "cost_caps" (
	"project_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"scope" text NOT NULL,
	"product_key" text,
	"customer_id" bigint,
	"period" text NOT NULL,
	"cap_micros" bigint NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "cost_caps_project_id_id_pk" PRIMARY KEY("project_id","id"),
	CONSTRAINT "cost_caps_scope" CHECK ("cost_caps"."scope" in ('project', 'product', 'customer')),
	CONSTRAINT "cost_caps_period" CHECK ("cost_caps"."period" in ('day', 'month')),
	CONSTRAINT "cost_caps_positive" CHECK ("cost_caps"."cap_micros" > 0)
);
--> statement-breakpoint
CREATE TABLE "price_book" (
	"project_id" uuid NOT NULL,
	"provider" text NOT NULL,
	"model" text NOT NULL,
	"input_per_million_micros" bigint NOT NULL,
	"output_per_million_micros" bigint NOT NULL,
	"cached_input_per_million_micros" bigint,
	"updated_by" text NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "price_book_project_id_provider_model_pk" PRIMARY KEY("project_id","provider","model"),
	CONSTRAINT "price_book_prices" CHECK ("price_book"."input_per_million_micros" >= 0 and "price_book"."output_per_million_micros" >= 0 and ("price_book"."cached_input_per_million_micros" is null or "price_book"."cached_input_per_million_micros" >= 0))
);
--> statement-breakpoint
CREATE TABLE "webhook_deliveries" (
	"project_id" uuid NOT NULL,
	"id" bigint GENERATED ALWAYS AS IDENTITY (sequence name "webhook_deliveries_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"endpoint_id" uuid NOT NULL,
	"event_id" bigint NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_status_code" integer,
	"last_error" text,
	"next_attempt_at" timestamp with time zone DEFAULT now() NOT NULL,
	"delivered_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "webhook_deliveries_project_id_id_pk" PRIMARY KEY("project_id","id"),
	CONSTRAINT "webhook_deliveries_status" CHECK ("webhook_deliveries"."status" in ('pending', 'delivered', 'failed'))
);
--> statement-breakpoint
CREATE TABLE "webhook_endpoints" (
	"project_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"url" text NOT NULL,
	"secret_encrypted" text NOT NULL,
	"event_types" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"cursor" bigint DEFAULT 0 NOT NULL,
	"disabled_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "webhook_endpoints_project_id_id_pk" PRIMARY KEY("project_id","id")
);
--> statement-breakpoint
ALTER TABLE "ledger_entries" DROP CONSTRAINT "ledger_entries_kind";--> statement-breakpoint
ALTER TABLE "products" DROP CONSTRAINT "products_kind";--> statement-breakpoint
ALTER TABLE "features" ADD COLUMN "margin_floor_percent" integer;--> statement-breakpoint
ALTER TABLE "grants" ADD COLUMN "value_micros" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "grants" ADD COLUMN "value_remaining_micros" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "ledger_entries" ADD COLUMN "revenue_micros" bigint;--> statement-breakpoint
ALTER TABLE "ledger_entries" ADD COLUMN "cost_micros" bigint;--> statement-breakpoint
ALTER TABLE "ledger_entries" ADD COLUMN "usage" jsonb;--> statement-breakpoint
ALTER TABLE "payments" ADD COLUMN "transaction_type" text;--> statement-breakpoint
ALTER TABLE "payments" ADD COLUMN "gross_nanostars" bigint;--> statement-breakpoint
ALTER TABLE "payments" ADD COLUMN "commission_nanostars" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "payments" ADD COLUMN "net_nanostars" bigint;--> statement-breakpoint
ALTER TABLE "payments" ADD COLUMN "affiliate" jsonb;--> statement-breakpoint
ALTER TABLE "products" ADD COLUMN "media" jsonb;--> statement-breakpoint
ALTER TABLE "subscriptions" ADD COLUMN "renewal_state" text DEFAULT 'active' NOT NULL;--> statement-breakpoint
ALTER TABLE "subscriptions" ADD COLUMN "renewal_state_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "projects" ADD COLUMN "overage_policy" text DEFAULT 'cap' NOT NULL;--> statement-breakpoint
ALTER TABLE "projects" ADD COLUMN "usd_per_star_micros" bigint DEFAULT 13000 NOT NULL;--> statement-breakpoint
ALTER TABLE "projects" ADD COLUMN "usd_per_star_set_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "projects" ADD COLUMN "unpriced_model_policy" text DEFAULT 'flag' NOT NULL;--> statement-breakpoint
ALTER TABLE "projects" ADD COLUMN "refund_abuse_limit" integer;--> statement-breakpoint
ALTER TABLE "projects" ADD COLUMN "refund_abuse_window_days" integer DEFAULT 30 NOT NULL;--> statement-breakpoint
ALTER TABLE "projects" ADD COLUMN "refund_abuse_action" text DEFAULT 'refuse' NOT NULL;--> statement-breakpoint
ALTER TABLE "projects" ADD COLUMN "margin_alert_percent" integer;--> statement-breakpoint
ALTER TABLE "projects" ADD COLUMN "subscription_grace_days" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "cost_caps" ADD CONSTRAINT "cost_caps_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "price_book" ADD CONSTRAINT "price_book_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "webhook_endpoints" ADD CONSTRAINT "webhook_endpoints_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "star_transactions_time" ON "star_transactions" USING btree ("project_id","occurred_at");--> statement-breakpoint
CREATE INDEX "subscription_state_changes_subscription" ON "subscription_state_changes" USING btree ("project_id","subscription_id","id");--> statement-breakpoint
CREATE INDEX "cost_caps_project" ON "cost_caps" USING btree ("project_id");--> statement-breakpoint
CREATE UNIQUE INDEX "webhook_deliveries_event" ON "webhook_deliveries" USING btree ("project_id","endpoint_id","event_id");--> statement-breakpoint
CREATE INDEX "webhook_deliveries_pending" ON "webhook_deliveries" USING btree ("next_attempt_at") WHERE "webhook_deliveries"."status" = 'pending';--> statement-breakpoint
ALTER TABLE "features" ADD CONSTRAINT "features_margin_floor" CHECK ("features"."margin_floor_percent" is null or "features"."margin_floor_percent" between 0 and 100);--> statement-breakpoint
ALTER TABLE "grants" ADD CONSTRAINT "grants_value_bounds" CHECK ("grants"."value_micros" >= 0 and "grants"."value_remaining_micros" >= 0 and "grants"."value_remaining_micros" <= "grants"."value_micros");--> statement-breakpoint
ALTER TABLE "ledger_entries" ADD CONSTRAINT "ledger_entries_cost" CHECK ("ledger_entries"."cost_micros" is null or "ledger_entries"."cost_micros" >= 0);--> statement-breakpoint
ALTER TABLE "ledger_entries" ADD CONSTRAINT "ledger_entries_kind" CHECK ("ledger_entries"."kind" in ('grant', 'consume', 'hold', 'settle', 'release', 'hold_expire', 'expire', 'revoke', 'adjust', 'repay', 'shortfall'));--> statement-breakpoint
ALTER TABLE "payments" ADD CONSTRAINT "payments_nanostars" CHECK ("payments"."commission_nanostars" >= 0 and ("payments"."gross_nanostars" is null or "payments"."gross_nanostars" > 0) and ("payments"."net_nanostars" is null or "payments"."net_nanostars" >= 0));--> statement-breakpoint
ALTER TABLE "products" ADD CONSTRAINT "products_kind" CHECK ("products"."kind" in ('pack', 'unlock', 'subscription', 'paid_media'));--> statement-breakpoint
ALTER TABLE "subscriptions" ADD CONSTRAINT "subscriptions_renewal_state" CHECK ("subscriptions"."renewal_state" in ('active', 'canceled', 'failed'));--> statement-breakpoint
ALTER TABLE "projects" ADD CONSTRAINT "projects_overage_policy" CHECK ("projects"."overage_policy" in ('cap', 'debt', 'absorb'));--> statement-breakpoint
ALTER TABLE "projects" ADD CONSTRAINT "projects_usd_per_star" CHECK ("projects"."usd_per_star_micros" >= 0);--> statement-breakpoint
ALTER TABLE "projects" ADD CONSTRAINT "projects_unpriced_model_policy" CHECK ("projects"."unpriced_model_policy" in ('refuse', 'flag'));--> statement-breakpoint
ALTER TABLE "projects" ADD CONSTRAINT "projects_refund_abuse" CHECK (("projects"."refund_abuse_limit" is null or "projects"."refund_abuse_limit" > 0) and "projects"."refund_abuse_window_days" > 0 and "projects"."refund_abuse_action" in ('refuse', 'block'));--> statement-breakpoint
ALTER TABLE "projects" ADD CONSTRAINT "projects_margin_alert" CHECK ("projects"."margin_alert_percent" is null or "projects"."margin_alert_percent" between -100 and 100);--> statement-breakpoint
ALTER TABLE "projects" ADD CONSTRAINT "projects_subscription_grace" CHECK ("projects"."subscription_grace_days" between 0 and 30);