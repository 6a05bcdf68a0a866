import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { SignInForm } from "~/components/SignInForm";
import { Card } from "~/components/ui";
import { safeNextPath } from "~/server/auth/nextPath";
import { api } from "~/trpc/server";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Sign in" };

/** `?next=/path?query`: where to go after signing in (a path of this site only; anything else means "/"). */
export default async function SignInPage({
  searchParams,
}: {
  searchParams: Promise<Record<string, string | string[] | undefined>>;
}) {
  const next = safeNextPath((await searchParams).next) ?? "/";
  const me = await (await api()).auth.me();
  if (me.user) redirect(next);
  return (
    <div className="mx-auto mt-16 max-w-sm">
      <h1 className="sr-only-live">{me.needsSetup ? "Set up NeurFlow Studio" : "Sign in to NeurFlow Studio"}</h1>
      <Card title={me.needsSetup ? "Set up NeurFlow Studio" : "Sign in"}>
        <SignInForm setup={me.needsSetup} next={next} />
      </Card>
    </div>
  );
}
