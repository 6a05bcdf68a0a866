export * from "./users";
export * from "./models";
export * from "./datasets";
export * from "./jobs";
export * from "./runs";
export * from "./circuits";
export * from "./labels";
export * from "./shareLinks";
