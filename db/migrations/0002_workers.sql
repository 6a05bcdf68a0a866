CREATE TABLE `worker_nodes` (
	`id` text PRIMARY KEY NOT NULL,
	`token_id` integer NOT NULL,
	`host` text NOT NULL,
	`backend` text NOT NULL,
	`kinds` text NOT NULL,
	`version` text,
	`started_at` integer NOT NULL,
	`last_seen_at` integer NOT NULL,
	`current_job_id` integer,
	`stopped_at` integer,
	FOREIGN KEY (`token_id`) REFERENCES `worker_tokens`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `worker_nodes_seen_idx` ON `worker_nodes` (`last_seen_at`);--> statement-breakpoint
CREATE TABLE `worker_tokens` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`token_hash` text NOT NULL,
	`created_by` integer,
	`created_at` integer NOT NULL,
	`revoked_at` integer,
	`last_used_at` integer,
	FOREIGN KEY (`created_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE UNIQUE INDEX `worker_tokens_token_hash_unique` ON `worker_tokens` (`token_hash`);