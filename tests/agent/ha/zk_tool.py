"""A kazoo client for flinkguard's HA tests: an independent ZooKeeper client.

usage: zk_tool.py HOSTS COMMAND ARGS...
  leader PATH                    prints the data of the first contender (by sequence) under PATH
  hold PATH READY RELEASE        takes a kazoo Lock on PATH, writes "acquired" to READY, holds it
                                 until the file RELEASE exists (at most 120 s), then releases
  try PATH SECONDS               tries a kazoo Lock on PATH; prints "acquired" or "timeout"
  put PATH DATA                  creates PATH (and parents) with DATA, or replaces its data
  create PATH [USER:PASSWORD]    creates PATH (digest auth first when given); prints "created"
                                 or the error's class name (NoAuthError, ...)
  acl PATH [USER:PASSWORD]       prints the ACL of PATH (reading it needs READ or ADMIN)
  children PATH                  prints the names of PATH's children, one per line, sorted
"""
import os
import sys
import time

from kazoo.client import KazooClient
from kazoo.exceptions import LockTimeout, NoNodeError, NodeExistsError
from kazoo.recipe.lock import Lock


def lock(zk, path):
    # Without extra_lock_patterns kazoo ignores Curator-style "-lock-" nodes.
    return Lock(zk, path, identifier="kazoo-test", extra_lock_patterns=["-lock-"])


def main():
    hosts, cmd, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    zk = KazooClient(hosts=hosts, timeout=10)
    zk.start(timeout=15)
    try:
        if cmd == "leader":
            kids = [k for k in zk.get_children(args[0]) if k[-10:].isdigit()]
            kids.sort(key=lambda k: int(k[-10:]))
            print(zk.get(args[0] + "/" + kids[0])[0].decode() if kids else "")
        elif cmd == "hold":
            lk = lock(zk, args[0])
            lk.acquire(timeout=60)
            with open(args[1], "w") as f:
                f.write("acquired\n")
            for _ in range(1200):
                if os.path.exists(args[2]):
                    break
                time.sleep(0.1)
            lk.release()
            print("released", flush=True)
        elif cmd == "try":
            lk = lock(zk, args[0])
            try:
                lk.acquire(timeout=float(args[1]))
                print("acquired", flush=True)
                lk.release()
            except LockTimeout:
                print("timeout contenders=%s" % lk.contenders(), flush=True)
        elif cmd == "create":
            if len(args) > 1:
                zk.add_auth("digest", args[1])
            try:
                zk.create(args[0], b"intruder")
                print("created", flush=True)
            except Exception as e:  # the class name is the result
                print(type(e).__name__, flush=True)
        elif cmd == "acl":
            if len(args) > 1:
                zk.add_auth("digest", args[1])
            acls, _ = zk.get_acls(args[0])
            for a in acls:
                print("%s:%s perms=%d" % (a.id.scheme, a.id.id, a.perms), flush=True)
        elif cmd == "children":
            for name in sorted(zk.get_children(args[0])):
                print(name, flush=True)
        elif cmd == "get":
            try:
                print(zk.get(args[0])[0].decode(), flush=True)
            except NoNodeError:
                print("NoNodeError", flush=True)
        elif cmd == "put":
            try:
                zk.create(args[0], args[1].encode(), makepath=True)
            except NodeExistsError:
                zk.set(args[0], args[1].encode())
        else:
            print("unknown command " + cmd, file=sys.stderr)
            return 2
    finally:
        zk.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
