import type { Metadata } from "next";
import { UsersAdmin } from "~/components/UsersAdmin";
import { WorkersAdmin } from "~/components/WorkersAdmin";
import { Card, ErrorBox } from "~/components/ui";
import { ROLES } from "~/db/schema";
import { api, requireUser } from "~/trpc/server";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Users" };

/** Administration (admins): the accounts (create, change roles) and the workers on other machines with their tokens. */
export default async function UsersPage() {
  const user = await requireUser();
  if (user.role !== "admin")
    return (
      <div className="mx-auto mt-8 max-w-xl" data-testid="admins-only">
        <Card title="Users">
          <ErrorBox>
            Only admins manage accounts; you are signed in as {user.role}. Ask an admin to add an account or change a
            role.
          </ErrorBox>
        </Card>
      </div>
    );
  const caller = await api();
  const [accounts, workers, tokens] = await Promise.all([
    caller.users.list(),
    caller.workers.list(),
    caller.workers.tokens(),
  ]);
  return (
    <div className="flex flex-col gap-6">
      <h1 className="text-2xl font-semibold">Users</h1>
      <UsersAdmin accounts={accounts} roles={ROLES} myId={user.id} />
      <section className="flex flex-col gap-6" data-testid="workers-admin">
        <h2 className="text-xl font-semibold">Workers</h2>
        <WorkersAdmin workers={workers} tokens={tokens} now={Date.now()} />
      </section>
    </div>
  );
}
