CREATE TABLE `concept_matches` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`circuit_a` integer NOT NULL,
	`circuit_b` integer NOT NULL,
	`params` text NOT NULL,
	`result` text NOT NULL,
	`job_id` integer,
	`seconds` real,
	`created_by` integer,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`circuit_a`) REFERENCES `circuits`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`circuit_b`) REFERENCES `circuits`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`job_id`) REFERENCES `jobs`(`id`) ON UPDATE no action ON DELETE set null,
	FOREIGN KEY (`created_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE INDEX `concept_matches_pair_idx` ON `concept_matches` (`circuit_a`,`circuit_b`,`id`);--> statement-breakpoint
CREATE UNIQUE INDEX `concept_matches_job_uq` ON `concept_matches` (`job_id`);