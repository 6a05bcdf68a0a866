/** Where sign-in returns to: only same-site paths get through `safeNextPath` (no open redirect). */
import { describe, expect, it } from "vitest";
import { safeNextPath, signInHref } from "~/server/auth/nextPath";

describe("safeNextPath", () => {
  it("keeps a path and its query", () => {
    expect(safeNextPath("/")).toBe("/");
    expect(safeNextPath("/circuits/1/view?node=g2")).toBe("/circuits/1/view?node=g2");
    expect(safeNextPath("/circuits?model=3&q=bee%20hive")).toBe("/circuits?model=3&q=bee%20hive");
    expect(safeNextPath("/users")).toBe("/users");
  });

  it("normalises dot segments and drops a fragment", () => {
    expect(safeNextPath("/circuits/../models/2")).toBe("/models/2");
    expect(safeNextPath("/circuits/1/view#panel")).toBe("/circuits/1/view");
  });

  it.each([
    ["protocol-relative", "//evil.example"],
    ["protocol-relative with a path", "//evil.example/circuits"],
    ["backslash host", "/\\evil.example"],
    ["backslash host, both", "\\\\evil.example"],
    ["backslash later", "/circuits\\..\\..\\evil"],
    ["absolute https", "https://evil.example"],
    ["absolute http to this site's look-alike", "http://127.0.0.1/x"],
    ["javascript scheme", "javascript:alert(1)"],
    ["data scheme", "data:text/html,hi"],
    ["no leading slash", "circuits/1"],
    ["empty", ""],
    ["tab before a second slash", "/\t/evil.example"],
    ["newline", "/circuits\n/x"],
    ["a dot segment that makes //", "/.//evil.example"],
    ["a parent segment that makes //", "/a/..//evil.example"],
    ["the sign-in page (a loop)", "/signin?next=/signin"],
    ["the sign-in page with a trailing slash", "/signin/"],
    ["too long", "/" + "a".repeat(5000)],
  ])("refuses %s", (_, raw) => {
    expect(safeNextPath(raw)).toBeNull();
  });

  it("refuses what is not a string (a repeated query parameter, nothing)", () => {
    expect(safeNextPath(["/a", "/b"])).toBeNull();
    expect(safeNextPath(undefined)).toBeNull();
    expect(safeNextPath(null)).toBeNull();
  });

  it("keeps encoded slashes encoded (a path, not a host)", () => {
    expect(safeNextPath("/%2F%2Fevil.example")).toBe("/%2F%2Fevil.example");
  });
});

describe("signInHref", () => {
  it("carries a safe path other than / in `next`, encoded", () => {
    expect(signInHref("/circuits/1/view?node=g2&t=0.3")).toBe(
      "/signin?next=%2Fcircuits%2F1%2Fview%3Fnode%3Dg2%26t%3D0.3",
    );
  });
  it("is plain /signin for /, nothing or anything unsafe", () => {
    expect(signInHref("/")).toBe("/signin");
    expect(signInHref(null)).toBe("/signin");
    expect(signInHref("//evil.example")).toBe("/signin");
  });
});
