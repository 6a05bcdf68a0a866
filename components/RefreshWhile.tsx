"use client";
import { useRouter } from "next/navigation";
import { useEffect } from "react";

/** Renders nothing; while `active`, asks the server for a fresh render of the page every `everyMs`. */
export function RefreshWhile({ active, everyMs = 1500 }: { active: boolean; everyMs?: number }) {
  const router = useRouter();
  useEffect(() => {
    if (!active) return;
    const t = setInterval(() => router.refresh(), everyMs);
    return () => clearInterval(t);
  }, [active, everyMs, router]);
  return null;
}
