"use client";
import { useMutation } from "@tanstack/react-query";
import { useEffect } from "react";
import { useTRPC } from "~/trpc/react";

/**
 * Sign-out ends the session and leaves with a full page load, so neither the client router's cache
 * nor the browser's back-forward cache can show a signed-in page again: Back after signing out
 * renders the page anew (the sign-in page, for a protected one).
 */
export function SignOutButton() {
  const trpc = useTRPC();
  const signOut = useMutation(
    trpc.auth.signOut.mutationOptions({ onSuccess: () => window.location.replace("/signin") }),
  );
  useEffect(() => {
    // a signed-in page restored from the back-forward cache is rendered again by the server
    const onShow = (e: PageTransitionEvent) => e.persisted && window.location.reload();
    window.addEventListener("pageshow", onShow);
    return () => window.removeEventListener("pageshow", onShow);
  }, []);
  return (
    <button
      className="text-zinc-600 hover:underline dark:text-zinc-300"
      onClick={() => signOut.mutate()}
      disabled={signOut.isPending}
    >
      Sign out
    </button>
  );
}
