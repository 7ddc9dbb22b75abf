// Run by the mongo-init service (docker-compose.yml) on every `up`: initiates the
// single-node replica set rs0 the first time, and leaves an existing one alone.
// The member is named mongo:27017 so that containers on the compose network can reach
// it; from the host, connect with directConnection=true (docs/docker.md).
/* global rs, db, print, sleep */

let initiated = true;
try {
  rs.status();
} catch (error) {
  if (error.codeName !== "NotYetInitialized") throw error;
  initiated = false;
}

if (initiated) {
  print("replica set rs0 already initiated");
} else {
  rs.initiate({ _id: "rs0", members: [{ _id: 0, host: "mongo:27017" }] });
  print("replica set rs0 initiated");
}

// Wait (bounded) for this node to become primary, so the exit code means "usable".
const deadline = Date.now() + 60_000;
while (!db.hello().isWritablePrimary) {
  if (Date.now() > deadline) throw new Error("rs0 has no writable primary after 60 s");
  sleep(500);
}
print("rs0 primary is writable");
