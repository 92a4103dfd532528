CREATE TABLE "entitlements" (
	"project_id" uuid NOT NULL,
	"id" bigint GENERATED ALWAYS AS IDENTITY (sequence name "entitlements_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"customer_id" bigint NOT NULL,
	"feature_key" text NOT NULL,
	"source" text NOT NULL,
	"starts_at" timestamp with time zone DEFAULT now() NOT NULL,
	"ends_at" timestamp with time zone,
	"payment_id" bigint,
	"order_id" uuid,
	"subscription_id" uuid,
	"revoked_at" timestamp with time zone,
	"revoked_reason" text,
	"revoked_by" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "entitlements_project_id_id_pk" PRIMARY KEY("project_id","id"),
	CONSTRAINT "entitlements_source" CHECK ("entitlements"."source" in ('unlock', 'subscription', 'operator'))
);
--> statement-breakpoint
CREATE TABLE "event_latches" (
	"project_id" uuid NOT NULL,
	"customer_id" bigint NOT NULL,
	"condition" text NOT NULL,
	"window_key" text DEFAULT '' NOT NULL,
	"latched_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "event_latches_project_id_customer_id_condition_pk" PRIMARY KEY("project_id","customer_id","condition")
);
--> statement-breakpoint
CREATE TABLE "events" (
	"project_id" uuid NOT NULL,
	"id" bigint GENERATED ALWAYS AS IDENTITY (sequence name "events_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"customer_id" bigint,
	"type" text NOT NULL,
	"payload" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "events_project_id_id_pk" PRIMARY KEY("project_id","id")
);
--> statement-breakpoint
CREATE TABLE "features" (
	"project_id" uuid NOT NULL,
	"key" text NOT NULL,
	"name" text NOT NULL,
	"kind" text NOT NULL,
	"credits" bigint DEFAULT 0 NOT NULL,
	"per_units" bigint DEFAULT 1 NOT NULL,
	"client_consumable" boolean DEFAULT false NOT NULL,
	"archived_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "features_project_id_key_pk" PRIMARY KEY("project_id","key"),
	CONSTRAINT "features_kind" CHECK ("features"."kind" in ('metered', 'gated')),
	CONSTRAINT "features_cost" CHECK ("features"."credits" >= 0 and "features"."per_units" > 0)
);
--> statement-breakpoint
CREATE TABLE "quotas" (
	"project_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"feature_key" text NOT NULL,
	"scope" text NOT NULL,
	"product_key" text,
	"customer_id" bigint,
	"limit" bigint NOT NULL,
	"period" text NOT NULL,
	"window" text DEFAULT 'calendar' NOT NULL,
	"free" boolean DEFAULT false NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "quotas_project_id_id_pk" PRIMARY KEY("project_id","id"),
	CONSTRAINT "quotas_scope" CHECK ("quotas"."scope" in ('project', 'product', 'customer')),
	CONSTRAINT "quotas_period" CHECK ("quotas"."period" in ('day', 'week', 'month')),
	CONSTRAINT "quotas_window" CHECK ("quotas"."window" in ('calendar', 'rolling')),
	CONSTRAINT "quotas_limit" CHECK ("quotas"."limit" >= 0)
);
--> statement-breakpoint
CREATE TABLE "usage_events" (
	"project_id" uuid NOT NULL,
	"id" bigint GENERATED ALWAYS AS IDENTITY (sequence name "usage_events_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"customer_id" bigint NOT NULL,
	"feature_key" text NOT NULL,
	"quantity" bigint NOT NULL,
	"free_quantity" bigint DEFAULT 0 NOT NULL,
	"credits" bigint DEFAULT 0 NOT NULL,
	"ledger_entry_id" bigint,
	"hold_id" uuid,
	"occurred_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "usage_events_project_id_id_pk" PRIMARY KEY("project_id","id"),
	CONSTRAINT "usage_events_quantity" CHECK ("usage_events"."quantity" >= 0 and "usage_events"."free_quantity" >= 0 and "usage_events"."credits" >= 0)
);
--> statement-breakpoint
CREATE TABLE "orders" (
	"project_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"customer_id" bigint NOT NULL,
	"product_id" uuid NOT NULL,
	"product_key" text NOT NULL,
	"kind" text NOT NULL,
	"title" text NOT NULL,
	"price_stars" bigint NOT NULL,
	"credits" bigint DEFAULT 0 NOT NULL,
	"credits_expire_days" integer,
	"feature_key" text,
	"duration_days" integer,
	"status" text DEFAULT 'open' NOT NULL,
	"invoice_link" text,
	"expires_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"paid_at" timestamp with time zone,
	CONSTRAINT "orders_project_id_id_pk" PRIMARY KEY("project_id","id"),
	CONSTRAINT "orders_status" CHECK ("orders"."status" in ('open', 'paid', 'expired', 'cancelled'))
);
--> statement-breakpoint
CREATE TABLE "payments" (
	"project_id" uuid NOT NULL,
	"id" bigint GENERATED ALWAYS AS IDENTITY (sequence name "payments_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"telegram_payment_charge_id" text NOT NULL,
	"provider_payment_charge_id" text,
	"customer_id" bigint,
	"telegram_user_id" bigint NOT NULL,
	"order_id" uuid,
	"product_key" text,
	"amount_stars" bigint NOT NULL,
	"currency" text DEFAULT 'XTR' NOT NULL,
	"invoice_payload" text NOT NULL,
	"is_recurring" boolean DEFAULT false NOT NULL,
	"subscription_id" uuid,
	"subscription_expires_at" timestamp with time zone,
	"status" text NOT NULL,
	"flag" text,
	"recorded_via" text NOT NULL,
	"paid_at" timestamp with time zone NOT NULL,
	"refunded_at" timestamp with time zone,
	"refunded_by" text,
	"refund_reason" text,
	"refund_shortfall" bigint,
	"refund_policy" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "payments_project_id_id_pk" PRIMARY KEY("project_id","id"),
	CONSTRAINT "payments_status" CHECK ("payments"."status" in ('paid', 'refunded', 'unmatched')),
	CONSTRAINT "payments_amount" CHECK ("payments"."amount_stars" > 0)
);
--> statement-breakpoint
CREATE TABLE "products" (
	"project_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"key" text NOT NULL,
	"kind" text NOT NULL,
	"title" text NOT NULL,
	"description" text NOT NULL,
	"price_stars" bigint NOT NULL,
	"credits" bigint DEFAULT 0 NOT NULL,
	"credits_expire_days" integer,
	"feature_key" text,
	"duration_days" integer,
	"sort_order" integer DEFAULT 0 NOT NULL,
	"archived_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "products_project_id_id_pk" PRIMARY KEY("project_id","id"),
	CONSTRAINT "products_kind" CHECK ("products"."kind" in ('pack', 'unlock', 'subscription')),
	CONSTRAINT "products_price" CHECK ("products"."price_stars" > 0 and "products"."price_stars" <= 100000),
	CONSTRAINT "products_credits" CHECK ("products"."credits" >= 0)
);
--> statement-breakpoint
CREATE TABLE "reconciliation_findings" (
	"project_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"run_id" uuid NOT NULL,
	"kind" text NOT NULL,
	"telegram_payment_charge_id" text,
	"action" text NOT NULL,
	"details" jsonb NOT NULL,
	"resolved_at" timestamp with time zone,
	"resolved_by" text,
	"resolution" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "reconciliation_findings_project_id_id_pk" PRIMARY KEY("project_id","id"),
	CONSTRAINT "reconciliation_findings_action" CHECK ("reconciliation_findings"."action" in ('recorded', 'applied', 'flagged'))
);
--> statement-breakpoint
CREATE TABLE "reconciliation_runs" (
	"project_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"trigger" text NOT NULL,
	"status" text DEFAULT 'running' NOT NULL,
	"transactions_seen" integer DEFAULT 0 NOT NULL,
	"summary" jsonb,
	"error" text,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone,
	CONSTRAINT "reconciliation_runs_project_id_id_pk" PRIMARY KEY("project_id","id"),
	CONSTRAINT "reconciliation_runs_status" CHECK ("reconciliation_runs"."status" in ('running', 'succeeded', 'failed'))
);
--> statement-breakpoint
CREATE TABLE "relay_updates" (
	"project_id" uuid NOT NULL,
	"update_id" bigint NOT NULL,
	"payload" jsonb NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	"forwarded_at" timestamp with time zone,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_error" text,
	"next_attempt_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "relay_updates_project_id_update_id_pk" PRIMARY KEY("project_id","update_id")
);
--> statement-breakpoint
CREATE TABLE "subscriptions" (
	"project_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"customer_id" bigint NOT NULL,
	"product_id" uuid NOT NULL,
	"product_key" text NOT NULL,
	"first_charge_id" text NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"current_period_end" timestamp with time zone NOT NULL,
	"canceled_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "subscriptions_project_id_id_pk" PRIMARY KEY("project_id","id"),
	CONSTRAINT "subscriptions_status" CHECK ("subscriptions"."status" in ('active', 'canceled', 'ended', 'refunded'))
);
--> statement-breakpoint
CREATE TABLE "login_attempts" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "login_attempts_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"email" text NOT NULL,
	"ip" text NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "operator_sessions" (
	"token_hash" text PRIMARY KEY NOT NULL,
	"operator_id" uuid NOT NULL,
	"csrf_token" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_seen_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "entitlements" ADD CONSTRAINT "entitlements_project_id_customer_id_customers_project_id_id_fk" FOREIGN KEY ("project_id","customer_id") REFERENCES "public"."customers"("project_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "features" ADD CONSTRAINT "features_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "quotas" ADD CONSTRAINT "quotas_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "products" ADD CONSTRAINT "products_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "operator_sessions" ADD CONSTRAINT "operator_sessions_operator_id_operators_id_fk" FOREIGN KEY ("operator_id") REFERENCES "public"."operators"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "entitlements_customer" ON "entitlements" USING btree ("project_id","customer_id","feature_key");--> statement-breakpoint
CREATE INDEX "entitlements_payment" ON "entitlements" USING btree ("project_id","payment_id");--> statement-breakpoint
CREATE UNIQUE INDEX "event_latches_window" ON "event_latches" USING btree ("project_id","customer_id","condition","window_key");--> statement-breakpoint
CREATE INDEX "events_cursor" ON "events" USING btree ("project_id","id");--> statement-breakpoint
CREATE INDEX "quotas_feature" ON "quotas" USING btree ("project_id","feature_key");--> statement-breakpoint
CREATE INDEX "usage_events_window" ON "usage_events" USING btree ("project_id","customer_id","feature_key","occurred_at");--> statement-breakpoint
CREATE INDEX "orders_customer" ON "orders" USING btree ("project_id","customer_id");--> statement-breakpoint
CREATE UNIQUE INDEX "payments_charge" ON "payments" USING btree ("project_id","telegram_payment_charge_id");--> statement-breakpoint
CREATE INDEX "payments_customer" ON "payments" USING btree ("project_id","customer_id");--> statement-breakpoint
CREATE INDEX "payments_time" ON "payments" USING btree ("project_id","paid_at");--> statement-breakpoint
CREATE UNIQUE INDEX "products_key" ON "products" USING btree ("project_id","key");--> statement-breakpoint
CREATE INDEX "reconciliation_findings_run" ON "reconciliation_findings" USING btree ("project_id","run_id");--> statement-breakpoint
CREATE INDEX "reconciliation_runs_time" ON "reconciliation_runs" USING btree ("project_id","started_at");--> statement-breakpoint
CREATE INDEX "relay_updates_pending" ON "relay_updates" USING btree ("next_attempt_at") WHERE "relay_updates"."forwarded_at" is null;--> statement-breakpoint
CREATE UNIQUE INDEX "subscriptions_first_charge" ON "subscriptions" USING btree ("project_id","first_charge_id");--> statement-breakpoint
CREATE INDEX "subscriptions_customer" ON "subscriptions" USING btree ("project_id","customer_id");--> statement-breakpoint
CREATE INDEX "login_attempts_email" ON "login_attempts" USING btree ("email","at");--> statement-breakpoint
CREATE INDEX "login_attempts_ip" ON "login_attempts" USING btree ("ip","at");--> statement-breakpoint
CREATE INDEX "operator_sessions_operator" ON "operator_sessions" USING btree ("operator_id");