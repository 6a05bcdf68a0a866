CREATE TABLE `sessions` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` integer NOT NULL,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `sessions_user_idx` ON `sessions` (`user_id`);--> statement-breakpoint
CREATE TABLE `users` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`username` text NOT NULL,
	`password_hash` text NOT NULL,
	`role` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `users_username_unique` ON `users` (`username`);--> statement-breakpoint
CREATE TABLE `models` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`format` text NOT NULL,
	`dir` text NOT NULL,
	`manifest_path` text NOT NULL,
	`file_path` text NOT NULL,
	`manifest` text NOT NULL,
	`checksum` text NOT NULL,
	`size_bytes` integer NOT NULL,
	`status` text NOT NULL,
	`status_message` text,
	`created_by` integer,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`created_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE TABLE `datasets` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`source` text NOT NULL,
	`dir` text NOT NULL,
	`model_id` integer,
	`class_count` integer NOT NULL,
	`image_count` integer NOT NULL,
	`created_by` integer,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`model_id`) REFERENCES `models`(`id`) ON UPDATE no action ON DELETE set null,
	FOREIGN KEY (`created_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE TABLE `images` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`dataset_id` integer NOT NULL,
	`class_name` text NOT NULL,
	`file_name` text NOT NULL,
	`width` integer NOT NULL,
	`height` integer NOT NULL,
	`format` text NOT NULL,
	`size_bytes` integer NOT NULL,
	FOREIGN KEY (`dataset_id`) REFERENCES `datasets`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `images_dataset_class_idx` ON `images` (`dataset_id`,`class_name`);--> statement-breakpoint
CREATE UNIQUE INDEX `images_dataset_file_uq` ON `images` (`dataset_id`,`class_name`,`file_name`);--> statement-breakpoint
CREATE TABLE `job_events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`job_id` integer NOT NULL,
	`type` text NOT NULL,
	`data` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`job_id`) REFERENCES `jobs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `job_events_job_idx` ON `job_events` (`job_id`,`id`);--> statement-breakpoint
CREATE TABLE `jobs` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`kind` text NOT NULL,
	`status` text NOT NULL,
	`payload` text NOT NULL,
	`priority` integer DEFAULT 0 NOT NULL,
	`run_at` integer NOT NULL,
	`lease_owner` text,
	`lease_expires_at` integer,
	`heartbeat_at` integer,
	`attempts` integer DEFAULT 0 NOT NULL,
	`max_attempts` integer DEFAULT 3 NOT NULL,
	`progress` real DEFAULT 0 NOT NULL,
	`message` text,
	`checkpoint` text,
	`result` text,
	`error` text,
	`cancel_requested` integer DEFAULT false NOT NULL,
	`created_at` integer NOT NULL,
	`started_at` integer,
	`finished_at` integer,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `jobs_claim_idx` ON `jobs` (`status`,`kind`,`run_at`);--> statement-breakpoint
CREATE INDEX `jobs_lease_idx` ON `jobs` (`status`,`lease_expires_at`);--> statement-breakpoint
CREATE TABLE `runs` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`model_id` integer NOT NULL,
	`dataset_id` integer NOT NULL,
	`class_name` text NOT NULL,
	`class_index` integer NOT NULL,
	`layers` text NOT NULL,
	`params` text NOT NULL,
	`backend` text,
	`status` text NOT NULL,
	`job_id` integer,
	`layer_timings` text NOT NULL,
	`error` text,
	`created_by` integer,
	`created_at` integer NOT NULL,
	`started_at` integer,
	`finished_at` integer,
	FOREIGN KEY (`model_id`) REFERENCES `models`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`dataset_id`) REFERENCES `datasets`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`job_id`) REFERENCES `jobs`(`id`) ON UPDATE no action ON DELETE set null,
	FOREIGN KEY (`created_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE INDEX `runs_model_idx` ON `runs` (`model_id`,`created_at`);--> statement-breakpoint
CREATE TABLE `circuit_images` (
	`circuit_id` integer NOT NULL,
	`idx` integer NOT NULL,
	`name` text NOT NULL,
	PRIMARY KEY(`circuit_id`, `idx`),
	FOREIGN KEY (`circuit_id`) REFERENCES `circuits`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `circuit_layers` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`circuit_id` integer NOT NULL,
	`idx` integer NOT NULL,
	`upper` text NOT NULL,
	`lower` text NOT NULL,
	`timings` text,
	FOREIGN KEY (`circuit_id`) REFERENCES `circuits`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `circuit_layers_uq` ON `circuit_layers` (`circuit_id`,`idx`);--> statement-breakpoint
CREATE TABLE `circuit_patches` (
	`circuit_id` integer NOT NULL,
	`idx` integer NOT NULL,
	`image_idx` integer NOT NULL,
	`x` integer NOT NULL,
	`y` integer NOT NULL,
	`size` integer NOT NULL,
	PRIMARY KEY(`circuit_id`, `idx`),
	FOREIGN KEY (`circuit_id`) REFERENCES `circuits`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `circuit_targets` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`layer_id` integer NOT NULL,
	`idx` integer NOT NULL,
	`neuron` integer NOT NULL,
	`importance` text NOT NULL,
	`ig_completeness` real,
	`layout_x` real,
	`layout_y` real,
	FOREIGN KEY (`layer_id`) REFERENCES `circuit_layers`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `circuit_targets_uq` ON `circuit_targets` (`layer_id`,`idx`);--> statement-breakpoint
CREATE INDEX `circuit_targets_neuron_idx` ON `circuit_targets` (`layer_id`,`neuron`);--> statement-breakpoint
CREATE TABLE `circuits` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`run_id` integer,
	`model_id` integer,
	`format` text NOT NULL,
	`model_name` text NOT NULL,
	`model_classes` text NOT NULL,
	`model_input_size` integer NOT NULL,
	`model_checksum` text,
	`class_index` integer NOT NULL,
	`class_name` text NOT NULL,
	`params` text NOT NULL,
	`created_at` text NOT NULL,
	`timings` text,
	`layer_count` integer NOT NULL,
	`target_count` integer NOT NULL,
	`neuron_group_count` integer NOT NULL,
	`patch_count` integer NOT NULL,
	`stored_at` integer NOT NULL,
	`stored_by` integer,
	FOREIGN KEY (`run_id`) REFERENCES `runs`(`id`) ON UPDATE no action ON DELETE set null,
	FOREIGN KEY (`model_id`) REFERENCES `models`(`id`) ON UPDATE no action ON DELETE set null,
	FOREIGN KEY (`stored_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE UNIQUE INDEX `circuits_run_uq` ON `circuits` (`run_id`);--> statement-breakpoint
CREATE INDEX `circuits_model_class_idx` ON `circuits` (`model_id`,`class_name`);--> statement-breakpoint
CREATE TABLE `core_neuron_edges` (
	`target_id` integer NOT NULL,
	`idx` integer NOT NULL,
	`semantic_group` integer NOT NULL,
	`neuron` integer NOT NULL,
	`weight` real NOT NULL,
	PRIMARY KEY(`target_id`, `idx`),
	FOREIGN KEY (`target_id`) REFERENCES `circuit_targets`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `core_neuron_edges_neuron_idx` ON `core_neuron_edges` (`target_id`,`neuron`);--> statement-breakpoint
CREATE TABLE `core_neurons` (
	`target_id` integer NOT NULL,
	`rank` integer NOT NULL,
	`neuron` integer NOT NULL,
	PRIMARY KEY(`target_id`, `rank`),
	FOREIGN KEY (`target_id`) REFERENCES `circuit_targets`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `group_edges` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`layer_id` integer NOT NULL,
	`idx` integer NOT NULL,
	`child` integer NOT NULL,
	`parent` integer NOT NULL,
	`weight` real NOT NULL,
	FOREIGN KEY (`layer_id`) REFERENCES `circuit_layers`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `group_edges_uq` ON `group_edges` (`layer_id`,`idx`);--> statement-breakpoint
CREATE TABLE `neuron_group_members` (
	`neuron_group_id` integer NOT NULL,
	`idx` integer NOT NULL,
	`neuron` integer NOT NULL,
	`semantic_group` integer NOT NULL,
	PRIMARY KEY(`neuron_group_id`, `idx`),
	FOREIGN KEY (`neuron_group_id`) REFERENCES `neuron_groups`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `neuron_groups` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`layer_id` integer NOT NULL,
	`idx` integer NOT NULL,
	`group_id` integer NOT NULL,
	`patch_count` integer NOT NULL,
	`layout_x` real NOT NULL,
	`layout_y` real NOT NULL,
	FOREIGN KEY (`layer_id`) REFERENCES `circuit_layers`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `neuron_groups_uq` ON `neuron_groups` (`layer_id`,`idx`);--> statement-breakpoint
CREATE INDEX `neuron_groups_gid_idx` ON `neuron_groups` (`layer_id`,`group_id`);--> statement-breakpoint
CREATE TABLE `semantic_groups` (
	`target_id` integer NOT NULL,
	`semantic_group` integer NOT NULL,
	`patch_count` integer NOT NULL,
	`neuron_group_id` integer,
	PRIMARY KEY(`target_id`, `semantic_group`),
	FOREIGN KEY (`target_id`) REFERENCES `circuit_targets`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`neuron_group_id`) REFERENCES `neuron_groups`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE TABLE `target_top_patches` (
	`target_id` integer NOT NULL,
	`rank` integer NOT NULL,
	`patch_idx` integer NOT NULL,
	`activation` real NOT NULL,
	`semantic_group` integer NOT NULL,
	PRIMARY KEY(`target_id`, `rank`),
	FOREIGN KEY (`target_id`) REFERENCES `circuit_targets`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `explanation_revisions` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`explanation_id` integer NOT NULL,
	`version` integer NOT NULL,
	`text` text NOT NULL,
	`source` text NOT NULL,
	`model_name` text,
	`prompt_version` text,
	`author_id` integer,
	`evidence` text,
	`prompt_tokens` integer,
	`completion_tokens` integer,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`explanation_id`) REFERENCES `explanations`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`author_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE UNIQUE INDEX `explanation_revisions_uq` ON `explanation_revisions` (`explanation_id`,`version`);--> statement-breakpoint
CREATE TABLE `explanations` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`circuit_id` integer NOT NULL,
	`group_edge_id` integer NOT NULL,
	`text` text NOT NULL,
	`version` integer NOT NULL,
	`review` text DEFAULT 'unreviewed' NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`circuit_id`) REFERENCES `circuits`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`group_edge_id`) REFERENCES `group_edges`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `explanations_edge_uq` ON `explanations` (`group_edge_id`);--> statement-breakpoint
CREATE INDEX `explanations_circuit_idx` ON `explanations` (`circuit_id`);--> statement-breakpoint
CREATE TABLE `label_revisions` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`label_id` integer NOT NULL,
	`version` integer NOT NULL,
	`text` text NOT NULL,
	`description` text,
	`source` text NOT NULL,
	`model_name` text,
	`prompt_version` text,
	`author_id` integer,
	`evidence` text,
	`prompt_tokens` integer,
	`completion_tokens` integer,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`label_id`) REFERENCES `labels`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`author_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE UNIQUE INDEX `label_revisions_uq` ON `label_revisions` (`label_id`,`version`);--> statement-breakpoint
CREATE TABLE `labels` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`circuit_id` integer NOT NULL,
	`neuron_group_id` integer NOT NULL,
	`text` text NOT NULL,
	`description` text,
	`version` integer NOT NULL,
	`review` text DEFAULT 'unreviewed' NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`circuit_id`) REFERENCES `circuits`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`neuron_group_id`) REFERENCES `neuron_groups`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `labels_group_uq` ON `labels` (`neuron_group_id`);--> statement-breakpoint
CREATE INDEX `labels_circuit_idx` ON `labels` (`circuit_id`);--> statement-breakpoint
CREATE TABLE `share_links` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`token_hash` text NOT NULL,
	`circuit_id` integer NOT NULL,
	`view_state` text NOT NULL,
	`created_by` integer,
	`created_at` integer NOT NULL,
	`expires_at` integer,
	`revoked_at` integer,
	FOREIGN KEY (`circuit_id`) REFERENCES `circuits`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`created_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE UNIQUE INDEX `share_links_token_hash_unique` ON `share_links` (`token_hash`);--> statement-breakpoint
CREATE INDEX `share_links_circuit_idx` ON `share_links` (`circuit_id`);