#include "apps/discovery_options.h"

#include <sstream>

#include "core/host.h"

namespace mint::apps {

void AddDiscoveryOptions(CLI::App* cmd, DiscoveryArgs* a) {
  cmd->add_option("--etcd", a->etcd,
                  "etcd client endpoints, host:port[,host:port...]: the members of one cluster, "
                  "used in order (the next when one fails)")
      ->capture_default_str();
  cmd->add_option("--discovery-prefix", a->prefix, "etcd key prefix of worker registrations")
      ->capture_default_str();
  cmd->add_option("--lease-ttl", a->lease_ttl_s,
                  "Seconds a registration outlives its worker's last keep-alive (a killed worker\n"
                  "leaves discovery within this)")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600));
  cmd->add_option("--tls-dir", a->tls_dir,
                  "Mutual TLS on the request plane: a directory with ca.pem, cert.pem, key.pem "
                  "(make one with `mint certs --out DIR`; every frontend and worker of the cluster "
                  "uses the same)");
  cmd->add_option("--etcd-tls-dir", a->etcd_tls_dir,
                  "TLS to etcd (https client URLs): a directory with ca.pem (etcd's CA), cert.pem "
                  "and key.pem (the client certificate etcd's --client-cert-auth checks); the "
                  "--tls-dir of `mint certs` works when etcd uses those files too");
  cmd->add_option("--etcd-tls-name", a->etcd_tls_name,
                  "Name etcd's certificate carries (default: the endpoint host; `mint certs`: "
                  "mint-cluster)");
  cmd->add_flag("--insecure-plane", a->insecure_plane,
                "Allow a plaintext request plane on an address beyond loopback (anyone who can "
                "reach it can generate)");
}

Result<runtime::PlaneTls> PlaneTlsFromArgs(const DiscoveryArgs& a, const std::string& bind_host) {
  if (!a.tls_dir.empty()) return runtime::LoadPlaneTls(a.tls_dir);
  if (!bind_host.empty() && !IsLoopbackHost(bind_host) && !a.insecure_plane) {
    return Status::InvalidArgument(
        "--bind " + bind_host +
        " exposes the request plane beyond loopback without authentication: pass --tls-dir DIR "
        "(`mint certs --out DIR`, the same on every frontend and worker), or --insecure-plane on a "
        "network you trust");
  }
  return runtime::PlaneTls{};
}

Result<std::unique_ptr<runtime::Discovery>> MakeDiscovery(const DiscoveryArgs& a) {
  runtime::EtcdOptions o;
  o.endpoints.clear();
  std::stringstream ss(a.etcd);
  for (std::string e; std::getline(ss, e, ',');) {
    if (!e.empty()) o.endpoints.push_back(e);
  }
  if (o.endpoints.empty()) return Status::InvalidArgument("--etcd names no endpoint");
  o.prefix = a.prefix;
  o.lease_ttl_s = a.lease_ttl_s;
  if (!a.etcd_tls_dir.empty()) {
    auto tls = runtime::LoadPlaneTls(a.etcd_tls_dir);
    if (!tls.ok()) return tls.status().WithContext("--etcd-tls-dir");
    o.tls = std::move(tls).value();
    o.tls_server_name = a.etcd_tls_name;
  }
  return runtime::NewEtcdDiscovery(o);
}

}  // namespace mint::apps
