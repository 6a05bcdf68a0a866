import { redirect } from "next/navigation";
import { SignInForm } from "~/components/SignInForm";
import { Card } from "~/components/ui";
import { api } from "~/trpc/server";

export const dynamic = "force-dynamic";

export default async function SignInPage() {
  const me = await (await api()).auth.me();
  if (me.user) redirect("/");
  return (
    <div className="mx-auto mt-16 max-w-sm">
      <Card title={me.needsSetup ? "Set up NeurFlow Studio" : "Sign in"}>
        <SignInForm setup={me.needsSetup} />
      </Card>
    </div>
  );
}
