"use client";
import { useMutation } from "@tanstack/react-query";
import type { inferRouterOutputs } from "@trpc/server";
import { useRouter } from "next/navigation";
import { useState, useTransition } from "react";
import type { Role } from "~/db/schema";
import type { AppRouter } from "~/server/api/root";
import { useTRPC } from "~/trpc/react";
import { buttonClass, Card, ErrorBox, inputClass, tableClass, when } from "./ui";

type Account = inferRouterOutputs<AppRouter>["users"]["list"][number];

/** The accounts with a role selector each, and a form to create one; the page re-renders after each change. */
export function UsersAdmin({ accounts, roles, myId }: { accounts: Account[]; roles: readonly Role[]; myId: number }) {
  return (
    <div className="grid gap-6 lg:grid-cols-2">
      <Card title={`Accounts (${accounts.length})`}>
        <AccountTable accounts={accounts} roles={roles} myId={myId} />
      </Card>
      <Card title="Add an account">
        <CreateUserForm roles={roles} />
      </Card>
    </div>
  );
}

function AccountTable({ accounts, roles, myId }: { accounts: Account[]; roles: readonly Role[]; myId: number }) {
  const trpc = useTRPC();
  const router = useRouter();
  // the role picked for an account until the server has answered (and the page re-rendered)
  const [picked, setPicked] = useState<Record<number, Role>>({});
  const [failure, setFailure] = useState<{ username: string; message: string } | null>(null);
  const [changed, setChanged] = useState<string | null>(null);
  const [, startTransition] = useTransition();
  const setRole = useMutation(trpc.users.setRole.mutationOptions());
  const change = (a: Account, role: Role) => {
    setPicked((p) => ({ ...p, [a.id]: role }));
    setFailure(null);
    setChanged(null);
    setRole.mutate(
      { userId: a.id, role },
      {
        onSuccess: (r) => {
          setChanged(`${r.username} is now ${r.role}.`);
          // the override goes when the re-rendered list (with the new role) arrives
          startTransition(() => {
            router.refresh();
            setPicked(({ [a.id]: _, ...rest }) => rest);
          });
        },
        onError: (e) => {
          setPicked(({ [a.id]: _, ...rest }) => rest);
          setFailure({ username: a.username, message: e instanceof Error ? e.message : String(e) });
        },
      },
    );
  };
  return (
    <div className="flex flex-col gap-3">
      <table className={tableClass} data-testid="accounts">
        <thead>
          <tr>
            <th>Username</th>
            <th>Role</th>
            <th>Created</th>
          </tr>
        </thead>
        <tbody>
          {accounts.map((a) => (
            <tr key={a.id} data-testid={`account-${a.username}`}>
              <td>
                {a.username}
                {a.id === myId && <span className="ml-1 text-xs text-zinc-500">(you)</span>}
              </td>
              <td>
                <select
                  aria-label={`Role of ${a.username}`}
                  className={inputClass}
                  value={picked[a.id] ?? a.role}
                  disabled={setRole.isPending}
                  onChange={(e) => change(a, e.target.value as Role)}
                >
                  {roles.map((r) => (
                    <option key={r} value={r}>
                      {r}
                    </option>
                  ))}
                </select>
              </td>
              <td>{when(a.createdAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {failure && (
        <ErrorBox>
          Could not change the role of {failure.username}: {failure.message}
        </ErrorBox>
      )}
      {changed && (
        <p className="text-sm text-green-700 dark:text-green-400" role="status">
          {changed}
        </p>
      )}
      <p className="text-xs text-zinc-500">
        A role change applies from the account&apos;s next request. There is always at least one admin.
      </p>
    </div>
  );
}

function CreateUserForm({ roles }: { roles: readonly Role[] }) {
  const trpc = useTRPC();
  const router = useRouter();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [role, setRole] = useState<Role>("viewer");
  const [created, setCreated] = useState<string | null>(null);
  const create = useMutation(
    trpc.users.create.mutationOptions({
      onSuccess: (u) => {
        setCreated(`Created ${u.username} (${u.role}).`);
        setUsername("");
        setPassword("");
        router.refresh();
      },
      onMutate: () => setCreated(null),
    }),
  );
  return (
    <form
      className="flex flex-col gap-3 text-sm"
      data-testid="create-account"
      onSubmit={(e) => {
        e.preventDefault();
        create.mutate({ username, password, role });
      }}
    >
      <label className="flex flex-col gap-1">
        Username
        <input
          name="new-username"
          autoComplete="off"
          className={inputClass}
          value={username}
          onChange={(e) => setUsername(e.target.value)}
          required
        />
        <span className="text-xs text-zinc-500">3–40 letters, digits, _ . -</span>
      </label>
      <label className="flex flex-col gap-1">
        Password
        <input
          name="new-password"
          type="password"
          autoComplete="new-password"
          className={inputClass}
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          required
        />
        <span className="text-xs text-zinc-500">at least 8 characters; pass it on to the person yourself</span>
      </label>
      <label className="flex flex-col gap-1">
        Role
        <select name="new-role" className={inputClass} value={role} onChange={(e) => setRole(e.target.value as Role)}>
          {roles.map((r) => (
            <option key={r} value={r}>
              {r}
            </option>
          ))}
        </select>
      </label>
      {create.error && <ErrorBox>{create.error.message}</ErrorBox>}
      {created && (
        <p className="text-green-700 dark:text-green-400" role="status">
          {created}
        </p>
      )}
      <button className={buttonClass} disabled={create.isPending} type="submit">
        Create account
      </button>
    </form>
  );
}
