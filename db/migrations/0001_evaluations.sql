CREATE TABLE `evaluations` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`circuit_id` integer NOT NULL,
	`kind` text NOT NULL,
	`params` text NOT NULL,
	`result` text NOT NULL,
	`job_id` integer,
	`seconds` real,
	`created_by` integer,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`circuit_id`) REFERENCES `circuits`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`job_id`) REFERENCES `jobs`(`id`) ON UPDATE no action ON DELETE set null,
	FOREIGN KEY (`created_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE INDEX `evaluations_circuit_idx` ON `evaluations` (`circuit_id`,`kind`,`id`);--> statement-breakpoint
CREATE UNIQUE INDEX `evaluations_job_uq` ON `evaluations` (`job_id`);