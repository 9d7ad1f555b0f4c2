// Preloaded (node --require) into processes under test whose libraries reach out on their own,
// e.g. the Azure Monitor distro probing the Azure VM metadata endpoint: any connection that is
// not to loopback fails at once, and is reported on stderr, instead of leaving the machine.
const net = require("node:net");

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);
const connect = net.Socket.prototype.connect;

net.Socket.prototype.connect = function (...args) {
  const first = Array.isArray(args[0]) ? args[0][0] : args[0];
  const options = typeof first === "object" && first !== null ? first : { host: args[1] };
  const host = options.path ? "localhost" : (options.host ?? "localhost");
  if (LOOPBACK.has(host)) return connect.apply(this, args);
  process.stderr.write(`loopback-only: refused a connection to ${host}\n`);
  const refused = Object.assign(new Error(`connect ECONNREFUSED ${host} (loopback only)`), {
    code: "ECONNREFUSED",
  });
  process.nextTick(() => this.destroy(refused));
  return this;
};
