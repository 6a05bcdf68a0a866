"use client";
import { useMutation } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { useTRPC } from "~/trpc/react";
import { buttonClass, ErrorBox, inputClass } from "./ui";

/**
 * Sign-in, or (on a fresh installation) creating the first account, which becomes admin; then on
 * to `next`, a same-site path the sign-in page has already checked.
 */
export function SignInForm({ setup, next = "/" }: { setup: boolean; next?: string }) {
  const trpc = useTRPC();
  const router = useRouter();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const done = {
    onSuccess: () => {
      router.push(next);
      router.refresh();
    },
  };
  const signIn = useMutation(trpc.auth.signIn.mutationOptions(done));
  const create = useMutation(trpc.auth.setup.mutationOptions(done));
  const m = setup ? create : signIn;
  return (
    <form
      className="flex flex-col gap-3"
      onSubmit={(e) => {
        e.preventDefault();
        m.mutate({ username, password });
      }}
    >
      {setup && (
        <p className="text-sm text-zinc-600 dark:text-zinc-400">
          No accounts yet: the account you create now is the admin.
        </p>
      )}
      <label className="flex flex-col gap-1 text-sm">
        Username
        <input
          name="username"
          autoComplete="username"
          className={inputClass}
          value={username}
          onChange={(e) => setUsername(e.target.value)}
          required
        />
      </label>
      <label className="flex flex-col gap-1 text-sm">
        Password
        <input
          name="password"
          type="password"
          autoComplete={setup ? "new-password" : "current-password"}
          className={inputClass}
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          required
        />
      </label>
      {m.error && <ErrorBox>{m.error.message}</ErrorBox>}
      <button className={buttonClass} disabled={m.isPending} type="submit">
        {setup ? "Create admin account" : "Sign in"}
      </button>
    </form>
  );
}
