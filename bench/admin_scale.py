"""The management API at scale (run by bench/admin-scale, which starts the stack)."""
import argparse
import concurrent.futures
import copy
import json
import statistics
import sys
import time
import urllib.parse

import requests


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--base", required=True)
    p.add_argument("--api", required=True)
    p.add_argument("--event", required=True)
    p.add_argument("--clients", type=int, default=10000)
    p.add_argument("--orgs", type=int, default=1000)
    p.add_argument("--creators", type=int, default=8)
    p.add_argument("--grants-phase", type=int, default=300)
    p.add_argument("--grant-creators", type=int, default=2)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    template = json.load(open(a.event))
    invoke = f"{a.base}/2015-03-31/functions/admin-api/invocations"
    local = requests.Session()

    def call(method, path, body=None, query=None, session=local):
        ev = copy.deepcopy(template)
        ev["routeKey"] = "ANY /admin/v1/{proxy+}"
        ev["rawPath"] = path
        ev["requestContext"]["http"]["method"] = method
        ev["requestContext"]["http"]["path"] = path
        ev["rawQueryString"] = urllib.parse.urlencode(query or {})
        if query:
            ev["queryStringParameters"] = query
        if body is not None:
            ev["body"] = json.dumps(body)
            ev["headers"]["content-type"] = "application/json"
        r = session.post(invoke, json=ev, timeout=120)
        r.raise_for_status()
        out = r.json()
        status = out.get("statusCode")
        payload = json.loads(out["body"]) if out.get("body") else None
        return status, payload

    def token_p50(client_id, secret, n=300):
        s = requests.Session()
        times = []
        for _ in range(n):
            t = time.perf_counter()
            r = s.post(f"{a.base}/oauth/token", auth=(client_id, secret),
                       data={"grant_type": "client_credentials", "audience": a.api}, timeout=30)
            times.append(time.perf_counter() - t)
            assert r.status_code == 200, r.text
        return statistics.median(times) * 1000

    def create(i, session, grants=True):
        org = f"org-{i % a.orgs:04d}"
        body = {"name": f"customer {i}", "org_id": org, "metadata": {"tier": "standard"}}
        if grants:
            body["grants"] = [{"api": a.api, "scopes": ["read:orders"]}]
        status, body = call("POST", "/admin/v1/clients", body, session=session)
        assert status == 201, (status, body)
        return body["client_id"], body["client_secret"]

    def create_many(first, count, grants, creators):
        sessions = [requests.Session() for _ in range(creators)]
        start = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(creators) as pool:
            futures = [pool.submit(create, i, sessions[i % creators], grants)
                       for i in range(first, first + count)]
            done = 0
            for f in concurrent.futures.as_completed(futures):
                f.result()
                done += 1
                if done % 1000 == 0:
                    print(f"  {first + done} clients", flush=True)
        return count / (time.perf_counter() - start)

    # 10 clients first: the small directory's token p50.
    first = [create(i, local) for i in range(10)]
    small_p50 = token_p50(*first[0])
    print(f"token p50 with 10 clients: {small_p50:.2f} ms", flush=True)

    # Creates with a grant: one transaction that also bumps the API's version, so
    # concurrent creates granting the same API contend on that item.
    with_grants = a.grants_phase
    grant_rate = create_many(10, with_grants, True, a.grant_creators)
    print(f"creates with a grant: {with_grants} at {grant_rate:.0f} per second ({a.grant_creators} callers)", flush=True)
    bulk = a.clients - 10 - with_grants
    rate = create_many(10 + with_grants, bulk, False, a.creators)
    print(f"creates (organization and metadata, no grant): {bulk} at {rate:.0f} per second ({a.creators} callers)", flush=True)

    list_times = []
    for i in range(50):
        org = f"org-{(i * 37) % a.orgs:04d}"
        t = time.perf_counter()
        status, body = call("GET", f"/admin/v1/orgs/{org}/clients", query={"limit": "100"})
        list_times.append(time.perf_counter() - t)
        assert status == 200 and len(body["clients"]) == a.clients // a.orgs, (status, len(body["clients"]))
    list_ms = statistics.median(list_times) * 1000
    print(f"list one org's {a.clients // a.orgs} clients: median {list_ms:.1f} ms", flush=True)

    off_times, on_times = [], []
    for i in range(20):
        org = f"org-{(i * 53 + 1) % a.orgs:04d}"
        t = time.perf_counter()
        status, body = call("POST", f"/admin/v1/orgs/{org}/disable", {})
        off_times.append(time.perf_counter() - t)
        assert status == 200 and len(body["changed"]) == a.clients // a.orgs, (status, body)
        t = time.perf_counter()
        status, body = call("POST", f"/admin/v1/orgs/{org}/enable", {})
        on_times.append(time.perf_counter() - t)
        assert status == 200, (status, body)
    off_ms = statistics.median(off_times) * 1000
    on_ms = statistics.median(on_times) * 1000
    print(f"disable one org ({a.clients // a.orgs} clients): median {off_ms:.1f} ms; enable: {on_ms:.1f} ms", flush=True)

    large_p50 = token_p50(*first[0])
    print(f"token p50 with {a.clients} clients: {large_p50:.2f} ms (10 clients: {small_p50:.2f} ms)", flush=True)
    json.dump({"clients": a.clients, "orgs": a.orgs, "creators": a.creators,
               "creates_per_second": rate, "creates_with_grant_per_second": grant_rate, "grant_creators": a.grant_creators,
               "list_org_ms": list_ms,
               "disable_org_ms": off_ms, "enable_org_ms": on_ms,
               "token_p50_ms_10_clients": small_p50, "token_p50_ms_all_clients": large_p50},
              open(a.out, "w"), indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
