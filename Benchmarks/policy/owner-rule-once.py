#!/usr/bin/env python3
"""Rewrite the shared policy workload's "owning team approves" rule once, with `group(resource.owner)`.

    owner-rule-once.py --from /tmp/wl-airlock/n1000 --to /tmp/wl-airlock/n1000-once

`../shared/benchmarks/policy-workload/to_airlock.py` translates the workload's one rule whose approver is "the
resource's owning team" into one `require_approval` per team (`g-owner-team-approval-<team>`, 100 copies), because
approvers used to be fixed group names. With approvers named by attributes (POLICY-LANGUAGE.md, Version 1.1) it is
one rule:

    require_approval "g-owner-team-approval"
      when principal.team == resource.owner and ...
      approvers group(resource.owner) count 1
      ttl <= ...;

This script copies the translated set, replaces the copies by that one rule, and rewrites `expected.jsonl` so that
the deciding rule's id is `g-owner-team-approval` (the approvals keep the team, now read from `resource.owner`).
Standard library only; deterministic.
"""
import argparse
import json
import os
import re
import shutil

PREFIX = "g-owner-team-approval"
COPY = re.compile(r'require_approval "' + PREFIX + r'-([^"]+)"\n(?:  .*\n|    .*\n)*?  ttl <= [^;]+;\n\n?')


def rewrite_rules(text):
    copies = list(COPY.finditer(text))
    if not copies:
        return text, 0
    first = copies[0]
    team = first.group(1)
    rule = first.group(0)
    rule = rule.replace(f'"{PREFIX}-{team}"', f'"{PREFIX}"')
    rule = rule.replace(f'  when resource.owner == "{team}"\n    and principal.team == "{team}"\n',
                        '  when principal.team == resource.owner\n')
    rule = rule.replace(f'  approvers group("{team}")\n', '  approvers group(resource.owner) count 1\n')
    assert f'"{team}"' not in rule, rule
    out = text[:first.start()] + rule + "".join(
        text[copies[i].end():copies[i + 1].start()] for i in range(len(copies) - 1)) + text[copies[-1].end():]
    return out, len(copies)


def rewrite_expected(line):
    decision = json.loads(line)
    decision["rules"] = sorted(PREFIX if r.startswith(PREFIX + "-") else r for r in decision["rules"])
    for approval in decision.get("approvals", []):
        if approval["rule"].startswith(PREFIX + "-"):
            approval["rule"] = PREFIX
    decision["approvals"] = sorted(decision.get("approvals", []), key=lambda a: a["rule"])
    return json.dumps(decision, separators=(",", ":"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source", required=True, help="a to_airlock.py n<N> directory")
    parser.add_argument("--to", dest="target", required=True)
    args = parser.parse_args()
    if os.path.exists(args.target):
        shutil.rmtree(args.target)
    shutil.copytree(args.source, args.target)
    replaced = 0
    policies = os.path.join(args.target, "policies")
    for name in sorted(os.listdir(policies)):
        path = os.path.join(policies, name)
        with open(path) as f:
            text, count = rewrite_rules(f.read())
        replaced += count
        with open(path, "w") as f:
            f.write(text)
    if replaced == 0:
        raise SystemExit(f"no `{PREFIX}-<team>` rules in {policies}")
    expected = os.path.join(args.target, "expected.jsonl")
    if os.path.exists(expected):
        with open(expected) as f:
            lines = [rewrite_expected(line) for line in f if line.strip()]
        with open(expected, "w") as f:
            f.write("\n".join(lines) + "\n")
    print(f"replaced {replaced} per-team copies of {PREFIX} by one rule in {args.target}")


if __name__ == "__main__":
    main()
