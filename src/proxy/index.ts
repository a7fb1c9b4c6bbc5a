/**
 * The Cloudstate proxy (`@cloudstate/cluster/proxy`). Not built yet: this entry point exists
 * so the package's exports are stable; it exports nothing until the proxy lands, and the
 * `cloudstate-proxy` bin only prints its usage until then.
 */
export {};
