#!/usr/bin/env python3
"""What `cargo +<rust-version> check` would prove, without that toolchain (a fresh
machine has only the current one): every crate a user's build of the library crates
compiles (their normal dependencies, on any target, with every feature) declares a
`rust-version` no newer than the library's own, or none. Code of the library crates
themselves is held to it by clippy's `incompatible_msrv`, which reads `rust-version`.

Each library crate is held to its own `rust-version`: `threadward-redis` and
`threadward-console` declare newer ones (the `redis` crate's; tokio's), and the
facade's `redis` and `console` features, which pull them in, need those; the walk from
another crate stops at them.

Reads `cargo metadata --all-features --locked` on stdin; exits non-zero, naming the
crates, when one asks for a newer Rust. A crate that declares no `rust-version` passes
(nothing to check), and the versions checked are the lock file's: a user who resolves
newer ones may get some that need a newer Rust."""

import json
import sys

LIBRARY = {
    "threadward",
    "threadward-runtime",
    "threadward-macros",
    "threadward-redis",
    "threadward-console",
}


def version(text):
    """`1.80` and `1.80.0` are the same version."""
    parts = [int(part) for part in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def main():
    meta = json.load(sys.stdin)
    packages = {p["id"]: p for p in meta["packages"]}
    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
    roots = [pid for pid, p in packages.items() if p["name"] in LIBRARY and p["source"] is None]
    failed = False
    for root in sorted(roots, key=lambda r: packages[r]["name"]):
        msrv = version(packages[root]["rust_version"])
        seen = walk(root, roots, packages, nodes, msrv)
        newer = []
        for pid in sorted(seen):
            wanted = packages[pid].get("rust_version")
            if wanted and version(wanted) > msrv:
                newer.append(f"{packages[pid]['name']} {packages[pid]['version']} needs Rust {wanted}")
        shown = ".".join(map(str, msrv[:2]))
        name = packages[root]["name"]
        if newer:
            print(f"{name}: rust-version {shown} is not met by:\n  " + "\n  ".join(newer))
            failed = True
        else:
            print(f"{name}: {len(seen)} crates in its build, none needs a Rust newer than {shown}")
    if failed:
        sys.exit(1)


def walk(root, roots, packages, nodes, msrv):
    """The crates a build of `root` compiles, not descending into another library
    crate that declares a newer Rust (checked on its own)."""
    seen, stack = set(), [root]
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        if pid != root and pid in roots and version(packages[pid]["rust_version"]) > msrv:
            continue
        seen.add(pid)
        for dep in nodes[pid]["deps"]:
            # Normal and build dependencies are what a user's build compiles (loom only
            # in the model checks' own build, `--cfg loom`).
            if any(
                kind["kind"] in (None, "build") and kind.get("target") != "cfg(loom)"
                for kind in dep["dep_kinds"]
            ):
                stack.append(dep["pkg"])
    return seen


main()
