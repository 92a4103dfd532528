CREATE TABLE "usage_reservations" (
	"project_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"customer_id" bigint NOT NULL,
	"feature_key" text NOT NULL,
	"quantity" bigint NOT NULL,
	"free_quantity" bigint DEFAULT 0 NOT NULL,
	"hold_id" uuid,
	"status" text DEFAULT 'active' NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"closed_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "usage_reservations_project_id_id_pk" PRIMARY KEY("project_id","id"),
	CONSTRAINT "usage_reservations_status" CHECK ("usage_reservations"."status" in ('active', 'settled', 'released', 'expired')),
	CONSTRAINT "usage_reservations_quantity" CHECK ("usage_reservations"."quantity" > 0 and "usage_reservations"."free_quantity" >= 0 and "usage_reservations"."free_quantity" <= "usage_reservations"."quantity")
);
--> statement-breakpoint
ALTER TABLE "usage_reservations" ADD CONSTRAINT "usage_reservations_project_id_customer_id_customers_project_id_id_fk" FOREIGN KEY ("project_id","customer_id") REFERENCES "public"."customers"("project_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "usage_reservations_active" ON "usage_reservations" USING btree ("project_id","customer_id","feature_key") WHERE "usage_reservations"."status" = 'active';