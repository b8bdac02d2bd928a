#!/usr/bin/env python3
"""Writes inputs.jsonl: 1,000 deterministic, varied evaluation inputs for `airlock policy bench`
against the example Policies/ (every path: permit, pending, deny, forbids, services, staging)."""
import json, random

rng = random.Random(8420)
groups = [["sre"], ["backend"], ["dba"], ["contractors"], ["backend", "dba"], ["ci"], ["sre", "security"], []]
resources = [
    {"id": "orders-db", "kind": "postgres", "env": "prod", "owner": "payments", "sensitivity": 7, "tags": []},
    {"id": "orders-staging", "kind": "postgres", "env": "staging", "owner": "payments", "sensitivity": 3, "tags": []},
    {"id": "payments-api", "kind": "token", "env": "prod", "owner": "payments", "sensitivity": 8, "tags": ["pci"], "pci": True},
]
roles = {"postgres": ["readonly", "readwrite"], "token": ["read", "write"]}
ips = ["127.0.0.1", "10.1.2.3", "192.168.4.5", "203.0.113.9", "::1"]
with open("inputs.jsonl", "w") as out:
    for i in range(1000):
        resource = rng.choice(resources)
        kind = "service" if rng.random() < 0.2 else "user"
        principal = {"id": f"p{i % 50}", "kind": kind, "groups": rng.choice(groups), "on_call": rng.random() < 0.2}
        if rng.random() < 0.7:
            principal["mfa_age"] = rng.choice([60, 600, 900, 3600, 7200])
        request = {
            "role": rng.choice(roles[resource["kind"]]), "ttl": rng.choice([600, 1800, 3600, 7200]),
            "reason": rng.choice(["INC-4411 orders stuck", "debugging", "report"]),
            "source_ip": rng.choice(ips), "break_glass": rng.random() < 0.1,
            "hour": rng.randrange(24), "weekday": rng.choice(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]),
        }
        risk = {"score": rng.choice([0, 5, 20, 45, 80]), "signals": []}
        out.write(json.dumps({"principal": principal, "resource": resource, "request": request, "risk": risk}) + "\n")
