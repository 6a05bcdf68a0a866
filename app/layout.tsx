import type { Metadata } from "next";
import Link from "next/link";
import type { ReactNode } from "react";
import { SignOutButton } from "~/components/SignOutButton";
import { TRPCReactProvider } from "~/trpc/react";
import { api } from "~/trpc/server";
import "./globals.css";

export const metadata: Metadata = {
  title: { default: "NeurFlow Studio", template: "%s · NeurFlow Studio" },
  description: "Concept circuits of image classifiers",
};

export default async function RootLayout({ children }: { children: ReactNode }) {
  const { user } = await (await api()).auth.me();
  return (
    <html lang="en">
      <body className="min-h-screen bg-zinc-50 text-zinc-900 antialiased dark:bg-zinc-950 dark:text-zinc-100">
        <TRPCReactProvider>
          <header className="border-b border-zinc-200 bg-white dark:border-zinc-800 dark:bg-zinc-900">
            <nav className="mx-auto flex max-w-6xl flex-wrap items-center gap-x-6 gap-y-2 px-4 py-3 text-sm">
              <Link href="/" className="font-semibold tracking-tight">
                NeurFlow Studio
              </Link>
              {user && (
                <Link href="/circuits" className="text-zinc-600 hover:underline dark:text-zinc-300">
                  Circuits
                </Link>
              )}
              {user?.role === "admin" && (
                <Link href="/users" className="text-zinc-600 hover:underline dark:text-zinc-300">
                  Users
                </Link>
              )}
              <span className="flex-1" />
              {user ? (
                <>
                  <span className="text-zinc-500 dark:text-zinc-400" data-testid="whoami">
                    {user.username} · {user.role}
                  </span>
                  <SignOutButton />
                </>
              ) : (
                <Link href="/signin">Sign in</Link>
              )}
            </nav>
          </header>
          <main className="mx-auto max-w-6xl px-4 py-6">{children}</main>
        </TRPCReactProvider>
      </body>
    </html>
  );
}
